"""What a credit note may take from each invoice line, and the exchange rate it uses.

A storno may reduce only the base actually invoiced for a supply (Cod fiscal art. 287):
a line's net after its own allowance and its share of the document discounts, less
what earlier credit notes took from it. A storno of a foreign-currency invoice converts
at the invoice's own rate, so the VAT in RON nets out in the VAT return.
"""

from decimal import Decimal

import pytest
from praho.core.errors import InvalidTransition, ValidationFailed
from praho.core.models import Customer, Invoice, InvoiceLine
from praho.core.models.audit import AuditEvent
from praho.core.models.ledger import JournalEntry
from praho.core.pricing import DraftAllowance, DraftLine
from praho.core.services.credit_notes import CreditLine, issue_credit_note, line_balances
from praho.core.services.invoicing import apply_allowance, create_draft
from praho.core.services.issuing import issue_document
from praho.core.services.totals import line_gross_minor
from praho.core.testing import StaticTestPlugin, at
from sqlalchemy import func, select

NOW = at("2026-03-02")
LATER = at("2026-03-09")


@pytest.fixture
def rates_plugin():
    """The test plugin answering exchange-rate lookups; a test may change its rates."""
    return StaticTestPlugin(rates={"EUR": Decimal("4.9700")})


@pytest.fixture
def praho_plugins(rates_plugin):
    return [("static_test", rates_plugin)]


def _line(name, quantity, price, **extra):
    return DraftLine(item_name=name, quantity=Decimal(quantity), unit_price=Decimal(price), **extra)


def _issue(factory, lines, discount_minor=0, currency=None, customer=None, now=NOW):
    customer = customer or factory.customer()
    draft = create_draft(factory.session, customer=customer, lines=lines, now=now,
                         **({"currency": currency} if currency else {}))
    if discount_minor:
        discount = DraftAllowance(amount_minor=discount_minor, reason="promo 50%", source="test")
        apply_allowance(factory.session, draft, discount)
    return issue_document(factory.session, draft, now=now)


def _two_lines(factory, discount_minor=0):
    """Hosting A and Hosting B, 1 x 100.00 each."""
    return _issue(factory, [_line("Hosting A", "1", "100.00"), _line("Hosting B", "1", "100.00")],
                  discount_minor=discount_minor)


def _two_lines_half_off(factory):
    """A=100 and B=100 with a 100.00 document discount: taxable 100, total 121."""
    invoice = _two_lines(factory, discount_minor=10000)
    assert (invoice.taxable_minor, invoice.total_minor) == (10000, 12100)
    return invoice


def _written(session):
    """Row counts that any credit note, refused or not, would change."""
    session.flush()
    return tuple(session.scalar(select(func.count()).select_from(model))
                 for model in (Invoice, InvoiceLine, JournalEntry, AuditEvent))


def _assert_prints_consistently(credit_note):
    """Every line reads quantity x unit price - line allowance = line net (BR-LIN-04)."""
    for line in credit_note.lines:
        quantity, price = Decimal(line.quantity), Decimal(line.unit_price)
        gross = line_gross_minor(quantity, price, credit_note.currency)
        assert gross - line.line_allowance_minor == abs(line.net_amount_minor), line.item_name


# --- Defect 1: a line is credited at most its discounted net, once ---------------------------


def test_crediting_one_line_takes_only_its_share_of_the_document_discount(praho_factory):
    invoice = _two_lines_half_off(praho_factory)
    line_a, line_b = invoice.lines
    first = issue_credit_note(praho_factory.session, invoice, reason="A cancelled",
                              lines=[CreditLine(line_a.id, quantity=Decimal(1))], now=LATER)
    assert (first.taxable_minor, first.vat_minor, first.total_minor) == (5000, 1050, 6050)
    credited = first.lines[0]
    assert (credited.quantity, credited.unit_price, credited.line_allowance_minor) == (1, 100, 5000)
    assert credited.line_allowance_reason == "promo 50%"
    _assert_prints_consistently(first)

    second = issue_credit_note(praho_factory.session, invoice, reason="B cancelled",
                               lines=[CreditLine(line_b.id, quantity=Decimal(1))], now=LATER)
    assert second.total_minor == 6050
    assert invoice.credited_minor == invoice.total_minor


def test_quantity_credit_is_prorated_from_the_net_after_the_line_allowance(praho_factory):
    invoice = _issue(praho_factory, [
        _line("Hosting", "10", "10.00", line_allowance_minor=5000, line_allowance_reason="50%"),
        _line("Other", "1", "100.00"),
    ])
    hosting = invoice.lines[0]
    assert hosting.net_amount_minor == 5000
    note = issue_credit_note(praho_factory.session, invoice, reason="10 units",
                             lines=[CreditLine(hosting.id, quantity=Decimal(10))], now=LATER)
    assert note.taxable_minor == 5000
    assert (note.lines[0].quantity, note.lines[0].line_allowance_minor) == (10, 5000)
    _assert_prints_consistently(note)


def test_units_credited_in_parts_sum_exactly_to_the_line_net(praho_factory):
    # 3 x 33.333333 is a line net of 100.00, which does not split evenly into thirds.
    invoice = _issue(praho_factory, [_line("Licence", "3", "33.333333")])
    line = invoice.lines[0]
    one_unit = [CreditLine(line.id, quantity=Decimal(1))]
    nets = [issue_credit_note(praho_factory.session, invoice, reason=f"unit {n}", lines=one_unit,
                              now=LATER).taxable_minor
            for n in range(3)]
    assert nets == [3333, 3334, 3333]
    assert invoice.credited_minor == invoice.total_minor
    with pytest.raises(ValidationFailed, match=r"quantity not yet credited \(0 of 3\)"):
        issue_credit_note(praho_factory.session, invoice, reason="a fourth",
                          lines=[CreditLine(line.id, quantity=Decimal(1))], now=LATER)


def test_the_same_line_cannot_be_credited_twice_and_the_refusal_writes_nothing(praho_factory):
    session = praho_factory.session
    invoice = _two_lines(praho_factory)
    line_a, line_b = invoice.lines
    issue_credit_note(session, invoice, reason="A",
                      lines=[CreditLine(line_a.id, quantity=Decimal(1))], now=LATER)
    before, credited_before = _written(session), invoice.credited_minor

    with pytest.raises(ValidationFailed, match="exceeds the invoiced quantity not yet credited"):
        issue_credit_note(session, invoice, reason="A again",
                          lines=[CreditLine(line_a.id, quantity=Decimal(1))], now=LATER)
    with pytest.raises(ValidationFailed, match=r"line 1 \(Hosting A\) has 0.00 left to credit"):
        issue_credit_note(session, invoice, reason="A by amount",
                          lines=[CreditLine(line_a.id, net_amount_minor=1)], now=LATER)
    assert _written(session) == before
    assert invoice.credited_minor == credited_before

    # B is untouched by the refusals, and no credit note number was used up.
    rest = issue_credit_note(session, invoice, reason="B",
                             lines=[CreditLine(line_b.id, quantity=Decimal(1))], now=LATER)
    assert rest.full_number == "PRHC2026-000002"
    assert invoice.credited_minor == invoice.total_minor


def test_one_request_naming_a_line_twice_is_bounded_by_the_line(praho_factory):
    invoice = _two_lines(praho_factory)
    line_a = invoice.lines[0]
    before = _written(praho_factory.session)
    with pytest.raises(ValidationFailed) as refused:
        issue_credit_note(praho_factory.session, invoice, reason="twice in one", now=LATER, lines=[
            CreditLine(line_a.id, quantity=Decimal(1)), CreditLine(line_a.id, net_amount_minor=1)])
    assert [e.field for e in refused.value.errors] == ["lines[1].net_amount_minor"]
    assert _written(praho_factory.session) == before
    assert invoice.credited_minor == 0


def test_amount_credit_above_the_discounted_net_is_refused_and_prints_as_one_unit(praho_factory):
    invoice = _two_lines_half_off(praho_factory)
    line_a = invoice.lines[0]
    before = _written(praho_factory.session)
    too_much = r"would credit 50.01 but line 1 \(Hosting A\) has 50.00 left"
    with pytest.raises(ValidationFailed, match=too_much):
        issue_credit_note(praho_factory.session, invoice, reason="too much",
                          lines=[CreditLine(line_a.id, net_amount_minor=5001)], now=LATER)
    assert _written(praho_factory.session) == before

    note = issue_credit_note(praho_factory.session, invoice, reason="partial",
                             lines=[CreditLine(line_a.id, net_amount_minor=3000)], now=LATER)
    credited = note.lines[0]
    assert (credited.quantity, credited.unit_price, credited.net_amount_minor) == (1, 30, 3000)
    _assert_prints_consistently(note)
    assert line_balances(praho_factory.session, invoice)[line_a.id].remaining_minor == 2000


def test_quantity_after_an_amount_credit_is_bounded_by_what_is_left(praho_factory):
    invoice = _issue(praho_factory, [_line("Mailbox", "10", "10.00")])
    line = invoice.lines[0]
    issue_credit_note(praho_factory.session, invoice, reason="goodwill",
                      lines=[CreditLine(line.id, net_amount_minor=3000)], now=LATER)
    with pytest.raises(ValidationFailed, match="would credit 100.00 but line 1 .* has 70.00"):
        issue_credit_note(praho_factory.session, invoice, reason="all units",
                          lines=[CreditLine(line.id, quantity=Decimal(10))], now=LATER)
    seven = issue_credit_note(praho_factory.session, invoice, reason="7 units",
                              lines=[CreditLine(line.id, quantity=Decimal(7))], now=LATER)
    assert seven.taxable_minor == 7000


def test_document_discount_shares_are_exact_and_deterministic(praho_factory):
    # 1.00 over three equal lines: 0.34 to the first, 0.33 to the others, every time.
    invoice = _issue(praho_factory, [_line(name, "1", "10.00") for name in ("A", "B", "C")],
                     discount_minor=100)
    balances = line_balances(praho_factory.session, invoice)
    assert [balances[line.id].net_minor for line in invoice.lines] == [966, 967, 967]
    storno = issue_credit_note(praho_factory.session, invoice, reason="storno", now=LATER)
    assert [line.net_amount_minor for line in storno.lines] == [966, 967, 967]
    assert storno.total_minor == invoice.total_minor
    _assert_prints_consistently(storno)


def test_full_storno_of_a_discounted_invoice_still_reverses_everything(praho_factory):
    invoice = _issue(praho_factory, [_line("A", "1", "100.00"), _line("B", "3", "33.33")],
                     discount_minor=1234)
    storno = issue_credit_note(praho_factory.session, invoice, reason="storno", now=LATER)
    assert (storno.taxable_minor, storno.vat_minor, storno.total_minor) == (
        invoice.taxable_minor, invoice.vat_minor, invoice.total_minor)
    assert [(line.quantity, line.unit_price) for line in storno.lines] == [
        (1, Decimal("100.00")), (3, Decimal("33.33"))]
    _assert_prints_consistently(storno)
    with pytest.raises(InvalidTransition, match="nothing remains to credit"):
        issue_credit_note(praho_factory.session, invoice, reason="again", now=LATER)


def test_full_storno_after_a_line_credit_credits_what_remains(praho_factory):
    invoice = _two_lines_half_off(praho_factory)
    line_a, line_b = invoice.lines
    issue_credit_note(praho_factory.session, invoice, reason="A",
                      lines=[CreditLine(line_a.id, quantity=Decimal(1))], now=LATER)
    rest = issue_credit_note(praho_factory.session, invoice, reason="the rest", now=LATER)
    assert [line.details["original_line_id"] for line in rest.lines] == [line_b.id]
    assert rest.total_minor == 6050
    assert invoice.credited_minor == invoice.total_minor


def test_gross_credit_goes_to_the_lines_not_yet_credited(praho_factory):
    invoice = _two_lines_half_off(praho_factory)
    line_a, line_b = invoice.lines
    issue_credit_note(praho_factory.session, invoice, reason="A",
                      lines=[CreditLine(line_a.id, quantity=Decimal(1))], now=LATER)
    rest = issue_credit_note(praho_factory.session, invoice, reason="refund",
                             gross_amount_minor=6050, now=LATER)
    assert [(line.details["original_line_id"], line.net_amount_minor) for line in rest.lines] == [
        (line_b.id, 5000)]
    _assert_prints_consistently(rest)


# --- Defect 2: a storno converts at the rate of the invoice it corrects ----------------------


def _rate_of(document):
    return document.exchange_rate, document.exchange_rate_date, document.exchange_rate_source


def test_storno_uses_the_invoice_rate_not_a_later_lookup(praho_factory, rates_plugin):
    customer = praho_factory.customer(currency="EUR")
    invoice = _issue(praho_factory, [_line("Server", "1", "1000.00")], currency="EUR",
                     customer=customer, now=at("2026-03-03"))
    assert (invoice.exchange_rate, invoice.vat_ron_minor) == (Decimal("4.97"), 104370)
    # The rate for the same tax point is later revised (a late fetch of the day's BNR rate).
    rates_plugin.rates["EUR"] = Decimal("5.0500")

    partial = issue_credit_note(praho_factory.session, invoice, reason="half",
                                gross_amount_minor=60500, now=at("2026-03-20"))
    assert _rate_of(partial) == _rate_of(invoice)
    storno = issue_credit_note(praho_factory.session, invoice, reason="rest", now=at("2026-03-20"))
    assert _rate_of(storno) == _rate_of(invoice)
    # The VAT in RON reverses exactly what the invoice declared.
    assert partial.vat_ron_minor + storno.vat_ron_minor == invoice.vat_ron_minor == 104370


def test_unused_time_credited_on_a_later_invoice_counts_against_the_line(praho_factory):
    session = praho_factory.session
    subscription = praho_factory.subscription(praho_factory.price(unit_amount_minor=10000))
    invoice = session.scalars(select(Invoice).where(
        Invoice.subscription_id == subscription.id, Invoice.kind == "invoice")).one()
    billed = invoice.lines[0]
    # An upgrade invoiced at once credits the unused 40.00 of the billed line on itself.
    customer = session.get(Customer, invoice.customer_id)
    upgrade = create_draft(session, customer=customer, now=LATER, lines=[
        _line("Pro plan", "1", "200.00"),
        _line("Unused Basic", "1", "0", kind="proration", net_amount_minor=-4000,
              details={"original_line_id": billed.id}),
    ])
    upgrade.subscription_id = subscription.id
    issue_document(session, upgrade, now=LATER)

    balance = line_balances(session, invoice)[billed.id]
    assert balance.remaining_minor == billed.net_amount_minor - 4000 == 6000
    with pytest.raises(ValidationFailed, match="60.00 left to credit"):
        issue_credit_note(session, invoice, reason="all of it", now=LATER,
                          lines=[CreditLine(billed.id, net_amount_minor=billed.net_amount_minor)])
