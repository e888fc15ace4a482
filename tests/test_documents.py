"""Issuing, voiding, crediting and converting documents, with their ledger effects."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from praho.core.errors import DocumentLocked, FieldError, InvalidTransition, ValidationFailed
from praho.core.models import AccountCode, DocumentKind, DocumentStatus, Invoice, InvoiceLine
from praho.core.pricing import DraftAllowance, DraftLine
from praho.core.services import ledger
from praho.core.services.credit_notes import CreditLine, convert_proforma, issue_credit_note
from praho.core.services.invoicing import add_line, apply_allowance
from praho.core.services.issuing import issue_document, void_document
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_issue_freezes_number_snapshots_totals_and_posts_ledger(praho_factory, praho_session):
    invoice = praho_factory.invoice(lines=[("Hosting", "1", "100.00"), ("Domain", "2", "45.50")])
    assert invoice.status == DocumentStatus.ISSUED
    assert invoice.full_number == "PRH2026-000001"
    assert (invoice.taxable_minor, invoice.vat_minor, invoice.total_minor) == (19100, 4011, 23111)
    assert invoice.issue_date == date(2026, 3, 2)
    assert invoice.due_date == date(2026, 3, 16)
    assert invoice.buyer_snapshot["cui"] == "14399840"
    assert invoice.seller_snapshot["iban"] == "RO49AAAA1B31007593840000"
    assert invoice.locked_at == NOW
    assert ledger.customer_receivable(praho_session, invoice.customer_id, "RON") == 23111
    assert ledger.account_balance(praho_session, AccountCode.VAT_PAYABLE, "RON") == -4011
    assert ledger.unbalanced_currencies(ledger.trial_balance(praho_session).items()) == {}


def test_dates_follow_bucharest_not_utc_at_midnight(praho_factory):
    # 23:30 UTC on 31 March is 02:30 on 1 April in Bucharest (UTC+3, summer time):
    # the fiscal dates are 1 April and the 14-day term counts from there.
    invoice = praho_factory.invoice(now=datetime(2026, 3, 31, 23, 30, tzinfo=UTC))
    assert invoice.issue_date == date(2026, 4, 1)
    assert invoice.tax_point_date == date(2026, 4, 1)
    assert invoice.due_date == date(2026, 4, 15)


def test_numbers_are_consecutive_per_series(praho_factory):
    customer = praho_factory.customer()
    numbers = [praho_factory.invoice(customer).number for _ in range(3)]
    assert numbers == [1, 2, 3]
    proforma = praho_factory.invoice(customer, kind=DocumentKind.PROFORMA)
    assert proforma.full_number == "PRO2026-000001"


def test_issued_document_is_immutable_in_the_orm(praho_factory, praho_session):
    invoice = praho_factory.invoice()
    invoice.total_minor = 1
    with pytest.raises(DocumentLocked, match="immutable"):
        praho_session.flush()
    praho_session.rollback()


def test_issued_lines_cannot_change_or_be_added(praho_factory, praho_session):
    invoice = praho_factory.invoice()
    invoice.lines[0].net_amount_minor = 1
    with pytest.raises(DocumentLocked):
        praho_session.flush()
    praho_session.rollback()
    with pytest.raises(InvalidTransition, match="only drafts"):
        add_line(
            praho_session,
            invoice,
            DraftLine(item_name="x", quantity=Decimal(1), unit_price=Decimal(1)),
        )


def test_issued_document_cannot_be_deleted(praho_factory, praho_session):
    invoice = praho_factory.invoice()
    praho_session.delete(invoice)
    with pytest.raises(DocumentLocked, match="cannot be deleted"):
        praho_session.flush()
    praho_session.rollback()


@pytest.mark.postgres
def test_postgres_triggers_refuse_raw_sql_changes(praho_factory, praho_session):
    invoice = praho_factory.invoice()
    for statement in (
        "UPDATE invoices SET total_minor = 1 WHERE id = :id",
        "DELETE FROM invoices WHERE id = :id",
        "UPDATE invoice_lines SET net_amount_minor = 1 WHERE invoice_id = :id",
        "DELETE FROM journal_lines WHERE invoice_id = :id",
    ):
        savepoint = praho_session.begin_nested()
        with pytest.raises(DBAPIError, match="praho"):
            praho_session.execute(text(statement), {"id": invoice.id})
        savepoint.rollback()
    # Payment bookkeeping stays possible.
    praho_session.execute(
        text("UPDATE invoices SET payment_status = 'paid' WHERE id = :id"), {"id": invoice.id}
    )


def test_void_keeps_number_and_reverses_ledger(praho_factory, praho_session):
    invoice = praho_factory.invoice()
    void_document(praho_session, invoice, reason="issued by mistake", now=NOW)
    assert invoice.status == DocumentStatus.VOID
    assert invoice.full_number == "PRH2026-000001"
    assert ledger.customer_receivable(praho_session, invoice.customer_id, "RON") == 0
    following = praho_factory.invoice(invoice_customer := praho_factory.customer())
    assert following.number == 2 and invoice_customer


def test_void_refused_when_paid_or_empty_reason(praho_factory, praho_session):
    invoice = praho_factory.invoice()
    with pytest.raises(FieldError, match="reason"):
        void_document(praho_session, invoice, reason="  ", now=NOW)
    invoice.amount_paid_minor = 100
    with pytest.raises(InvalidTransition, match="refund or credit"):
        void_document(praho_session, invoice, reason="x", now=NOW)


def test_full_credit_note_reverses_everything(praho_factory, praho_session):
    invoice = praho_factory.invoice(lines=[("Hosting", "1", "100.00"), ("Domain", "2", "45.50")])
    credit = issue_credit_note(praho_session, invoice, reason="service cancelled", now=NOW)
    assert credit.kind == DocumentKind.CREDIT_NOTE
    assert credit.full_number == "PRHC2026-000001"
    assert credit.total_minor == invoice.total_minor
    assert credit.original_invoice_id == invoice.id
    assert invoice.credited_minor == invoice.total_minor
    assert ledger.customer_receivable(praho_session, invoice.customer_id, "RON") == 0
    with pytest.raises(InvalidTransition, match="exceeds what remains creditable"):
        issue_credit_note(praho_session, invoice, reason="again", gross_amount_minor=1, now=NOW)


def test_partial_credit_by_gross_amount_is_exact(praho_factory, praho_session):
    invoice = praho_factory.invoice(lines=[("Hosting", "1", "100.00")])
    credit = issue_credit_note(
        praho_session, invoice, reason="goodwill", gross_amount_minor=5000, now=NOW
    )
    assert credit.total_minor == 5000
    assert credit.lines[0].tax_rate == Decimal("21")
    remaining = invoice.total_minor - 5000
    with pytest.raises(InvalidTransition):
        issue_credit_note(
            praho_session, invoice, reason="too much", gross_amount_minor=remaining + 1, now=NOW
        )
    last = issue_credit_note(
        praho_session, invoice, reason="rest", gross_amount_minor=remaining, now=NOW
    )
    assert invoice.credited_minor == invoice.total_minor == 5000 + last.total_minor


def test_credit_by_line_quantity(praho_factory, praho_session):
    invoice = praho_factory.invoice(lines=[("Mailbox", "10", "5.00")])
    line = invoice.lines[0]
    credit = issue_credit_note(
        praho_session,
        invoice,
        reason="3 mailboxes removed",
        lines=[CreditLine(line.id, quantity=Decimal(3))],
        now=NOW,
    )
    assert credit.taxable_minor == 1500
    with pytest.raises(ValidationFailed, match="exceeds the invoiced quantity"):
        issue_credit_note(
            praho_session,
            invoice,
            reason="x",
            lines=[CreditLine(line.id, quantity=Decimal(11))],
            now=NOW,
        )


def test_proforma_converted_after_rate_change_is_rerated(praho_factory, praho_session):
    from praho.core.testing import StaticTaxRegime

    customer = praho_factory.customer()
    proforma = praho_factory.invoice(
        customer, kind=DocumentKind.PROFORMA, now=datetime(2025, 7, 20, 9, 0, tzinfo=UTC)
    )
    assert ledger.customer_receivable(praho_session, customer.id, "RON") == 0  # no posting
    # The static regime has one rate; the date-dependent case is in the eu_vat plugin tests.
    assert isinstance(StaticTaxRegime(), StaticTaxRegime)
    invoice = convert_proforma(praho_session, proforma, now=datetime(2025, 8, 4, 9, 0, tzinfo=UTC))
    assert invoice.converted_from_id == proforma.id
    assert proforma.converted_to_id == invoice.id
    assert invoice.attributes["conversion"]["proforma"] == proforma.full_number
    assert convert_proforma(praho_session, proforma, now=NOW) is invoice


def test_allowance_is_split_over_vat_groups_and_capped(praho_factory, praho_session):
    draft = praho_factory.draft(lines=[("Hosting", "1", "100.00")])
    add_line(
        praho_session,
        draft,
        DraftLine(
            item_name="Book", quantity=Decimal(1), unit_price=Decimal("50.00"), tax_class="reduced"
        ),
        now=NOW,
    )
    created = apply_allowance(
        praho_session, draft, DraftAllowance(amount_minor=3000, reason="Promo", source="test")
    )
    assert sorted(a.amount_minor for a in created) == [1000, 2000]
    invoice = issue_document(praho_session, draft, now=NOW)
    assert invoice.allowance_total_minor == 3000
    assert invoice.taxable_minor == 12000
    assert invoice.vat_minor == 1680 + 440  # 21% of 80.00 and 11% of 40.00
    capped = praho_factory.draft(lines=[("Hosting", "1", "10.00")])
    created = apply_allowance(
        praho_session, capped, DraftAllowance(amount_minor=99999, reason="Too big", source="test")
    )
    assert sum(a.amount_minor for a in created) == 1000
    assert issue_document(praho_session, capped, now=NOW).total_minor == 0


def test_allowance_reason_codes_default_by_kind_and_must_be_in_their_code_list(
    praho_factory, praho_session
):
    draft = praho_factory.draft(lines=[("Hosting", "1", "100.00")])
    (discount,) = apply_allowance(
        praho_session, draft, DraftAllowance(amount_minor=1000, reason="Promo", source="test")
    )
    (charge,) = apply_allowance(
        praho_session,
        draft,
        DraftAllowance(amount_minor=500, reason="Urgency fee", source="test", is_charge=True),
    )
    (coded,) = apply_allowance(
        praho_session,
        draft,
        DraftAllowance(amount_minor=300, reason="Packing", source="test", is_charge=True,
                       reason_code="ABL"),
    )
    # 95 (discount, UNCL 5189) and ZZZ (mutually defined, UNCL 7161): what ANAF accepts.
    assert (discount.reason_code, charge.reason_code, coded.reason_code) == ("95", "ZZZ", "ABL")
    before = len(draft.allowances)
    for wrong in (
        DraftAllowance(amount_minor=500, reason="Fee", source="test", is_charge=True,
                       reason_code="95"),  # a discount code on a charge: BR-CL-20
        DraftAllowance(amount_minor=500, reason="Promo", source="test", reason_code="ZZZ"),
        DraftAllowance(amount_minor=500, reason="Promo", source="test", reason_code="9 5"),
    ):
        with pytest.raises(ValidationFailed) as failure:
            apply_allowance(praho_session, draft, wrong)
        assert [e.field for e in failure.value.errors] == ["reason_code"]
        assert "reason code of the UNCL" in failure.value.errors[0].reason
    assert len(draft.allowances) == before
    invoice = issue_document(praho_session, draft, now=NOW)
    assert invoice.taxable_minor == 10000 - 1000 + 500 + 300


def test_foreign_currency_records_rate_and_vat_in_ron(praho_factory, praho_session):
    invoice = praho_factory.invoice(lines=[("Hosting", "1", "100.00")], currency="EUR")
    assert invoice.exchange_rate == Decimal("4.975000")
    assert invoice.vat_minor == 2100
    assert invoice.vat_ron_minor == 10448  # 497.50 RON x 21% = 104.475 -> 104.48


def test_bad_lines_are_rejected_with_field_names_and_nothing_written(praho_factory, praho_session):
    customer = praho_factory.customer()
    before = praho_session.query(InvoiceLine).count()
    with pytest.raises(ValidationFailed) as failure:
        praho_factory.draft(customer, lines=[("", "-1", "abc")])
    fields = {e.field for e in failure.value.errors}
    assert {"lines[0].item_name", "lines[0].quantity", "lines[0].unit_price"} <= fields
    assert praho_session.query(InvoiceLine).count() == before


def test_issuing_twice_is_refused(praho_factory, praho_session):
    invoice = praho_factory.invoice()
    with pytest.raises(InvalidTransition):
        issue_document(praho_session, invoice, now=NOW)
    assert praho_session.query(Invoice).count() == 1


def test_yearly_reset_and_prefix_rotation_never_reuse_numbers(praho_factory, praho_session):
    from praho.core.services.numbering import default_series

    customer = praho_factory.customer()
    december = praho_factory.invoice(customer, now=datetime(2026, 12, 31, 20, 0, tzinfo=UTC))
    # 31 Dec 22:30 UTC is already 1 January in Bucharest: the new year's series starts.
    january = praho_factory.invoice(customer, now=datetime(2026, 12, 31, 22, 30, tzinfo=UTC))
    assert december.full_number == "PRH2026-000001"
    assert january.full_number == "PRH2027-000001" and january.issue_date == date(2027, 1, 1)
    series = default_series(praho_session, DocumentKind.INVOICE)
    series.prefix = "HST"
    rotated = praho_factory.invoice(customer, now=datetime(2027, 1, 5, 10, 0, tzinfo=UTC))
    assert rotated.full_number == "HST2027-000002"


def test_continuous_series_without_yearly_reset(praho_factory, praho_session):
    from praho.core.services.numbering import default_series

    series = default_series(praho_session, DocumentKind.INVOICE)
    series.reset_yearly = False
    customer = praho_factory.customer()
    first = praho_factory.invoice(customer, now=datetime(2026, 12, 30, 10, 0, tzinfo=UTC))
    second = praho_factory.invoice(customer, now=datetime(2027, 1, 2, 10, 0, tzinfo=UTC))
    assert (first.full_number, second.full_number) == ("PRH000001", "PRH000002")


def test_invoice_type_codes_are_checked_on_drafts(praho_factory, praho_session):
    from praho.core.services.invoicing import set_invoice_type

    customer = praho_factory.customer()
    original = praho_factory.invoice(customer)
    draft = praho_factory.draft(customer)
    assert set_invoice_type(praho_session, draft, "389").attributes["invoice_type_code"] == "389"
    for code, corrects, field in (
        ("999", None, "type_code"),
        ("384", None, "corrects"),
        ("380", original, "corrects"),
    ):
        with pytest.raises(ValidationFailed) as refused:
            set_invoice_type(praho_session, draft, code, corrects=corrects)
        assert refused.value.errors[0].field == field
    assert draft.attributes["invoice_type_code"] == "389"  # refusals changed nothing
    other = praho_factory.invoice(praho_factory.customer())
    with pytest.raises(ValidationFailed, match="same customer"):
        set_invoice_type(praho_session, draft, "384", corrects=other)
    set_invoice_type(praho_session, draft, "384", corrects=original)
    issued = issue_document(praho_session, draft)
    assert issued.attributes["corrects"]["number"] == original.full_number
    with pytest.raises(InvalidTransition, match="only drafts"):
        set_invoice_type(praho_session, issued, "380")
