"""The one validation layer: every rejection names the field and the reason.

Also the places that accepted outside input without going through it before this pass
(each case here failed, crashed or wrote bad data before).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from praho.core import validation as v
from praho.core.errors import FieldError, ValidationFailed
from praho.core.models import Customer, Invoice, Product, Seller
from praho.core.pricing import DraftAllowance, DraftLine
from praho.core.services.catalog import create_price, create_product
from praho.core.services.customers import CustomerInput, create_customer
from praho.core.services.importer import ImportFailed, import_data
from praho.core.services.invoicing import add_line, apply_allowance, create_draft
from praho.core.services.issuing import issue_document
from praho.core.testing import DEFAULT_NOW, config_for_tests


@pytest.mark.parametrize("check,value,reason", [
    (lambda x: v.text("name", x, max_length=10), "a\x00b", "control characters"),
    (lambda x: v.text("name", x, max_length=10), "a\x85b", "control characters"),
    (lambda x: v.text("name", x, max_length=10), "a\ud800", "lone surrogate"),
    (lambda x: v.text("name", x, max_length=10), "abc\u202egpj", "text-direction"),
    (lambda x: v.text("name", x, max_length=10), "x" * 11, "at most 10"),
    (lambda x: v.code("code", x, max_length=40), "A B", "letters, digits"),
    (lambda x: v.unit_code("unit_code", x), "C62X", "Rec. 20"),
    (lambda x: v.boolean("vat_payer", x), "no", "true or false"),
    (lambda x: v.integer("days", x, minimum=0, maximum=365), True, "whole number"),
    (lambda x: v.integer("days", x, minimum=0, maximum=365), 366, "between 0 and 365"),
    (lambda x: v.quantity("quantity", x), 1.5, "not a float"),
    (lambda x: v.quantity("quantity", x), "1.0000001", "more than 6 decimals"),
    (lambda x: v.quantity("quantity", x), "9" * 50, "longer than 40"),
    (lambda x: v.quantity("quantity", x), [1], "must be a number"),
    (lambda x: v.unit_price("unit_price", x), "-1", "at least 0"),
    (lambda x: v.rate_percent("rate", x), "21.00001", "more than 4 decimals"),
    (lambda x: v.exchange_rate("rate", x), "0", "at least"),
    (lambda x: v.exchange_rate("rate", x), "4.97501234", "more than 6 decimals"),
    (lambda x: v.amount_minor("amount", x), 100_000_001, "exceeds the limit of 100000000"),
    (lambda x: v.amount_minor("amount", x), "100", "integer number of minor units"),
    (lambda x: v.document_amount("total", x), -100_000_001, "PRAHO_MAX_DOCUMENT_AMOUNT_MINOR"),
    (lambda x: v.currency("currency", x), "ron", "ISO 4217"),
    (lambda x: v.iso_date("issue_date", x), "1999-12-31", "outside"),
    (lambda x: v.iso_date("issue_date", x), datetime(2026, 1, 1), "must be a date"),
    (lambda x: v.cui("cui", x), "14399841", "not a valid Romanian CUI"),
    (lambda x: v.cui("cui", x), True, "must be text"),
    (lambda x: v.vat_id("vat_id", x), "DE" + "1" * 100, "longer than 64"),
    (lambda x: v.iban("iban", x), "RO49AAAA1B31007593840001", "not a valid IBAN"),
    (lambda x: v.cnp("cnp", x), "1800101221145", "not a valid CNP"),
])
def test_rejections_name_the_field_and_the_reason(check, value, reason):
    with pytest.raises(FieldError, match=reason) as caught:
        check(value)
    assert caught.value.field and caught.value.message.startswith(caught.value.field + ":")


def test_error_messages_quote_only_a_short_prefix():
    with pytest.raises(FieldError) as caught:
        v.currency("currency", "A" * 100_000)
    assert len(caught.value.message) < 200


def test_external_text_is_made_storable():
    assert v.external_text("ok\x00\x07 \ud800done\u202e", max_length=100) == "ok   done"
    assert v.external_text(12345) == "12345"
    assert len(v.external_text("x" * 2000, max_length=50)) == 50


def test_bounds_follow_the_configuration(praho_database_url):
    from praho.core.app import create_app

    app = create_app(config_for_tests(praho_database_url, MAX_AMOUNT_MINOR=5000,
                                      MAX_DOCUMENT_AMOUNT_MINOR=8000))
    with app.app_context():
        assert v.amount_minor("a", 5000) == 5000
        with pytest.raises(FieldError, match="5000"):
            v.amount_minor("a", 5001)
        with pytest.raises(FieldError, match="8000"):
            v.document_amount("total", 8001)
    app.extensions["praho.db"].dispose()


def test_customer_tags_and_flags_are_checked(praho_session, praho_factory):
    praho_factory.seller()
    base = {"legal_name": "Tags SRL", "email": "t@example.ro", "street": "Str. T 1",
            "city": "Cluj-Napoca", "county": "RO-CJ", "cui": "14399840"}
    with pytest.raises(ValidationFailed) as caught:  # a dict in tags crashed with TypeError
        create_customer(praho_session, CustomerInput.from_mapping(
            {**base, "tags": ["vip", {"x": 1}, "\x00"], "vat_payer": "no",
             "payment_terms_days": True, "code": "has space"}))
    fields = {e.field for e in caught.value.errors}
    assert {"tags[1]", "tags[2]", "vat_payer", "payment_terms_days"} <= fields
    assert praho_session.query(Customer).count() == 0


def test_catalog_checks_every_field(praho_session):
    with pytest.raises(ValidationFailed) as caught:
        create_product(praho_session, code="P 1", name="Hosting", description="\x00",
                       electronic_service="yes", unit_code="c62")  # type: ignore[arg-type]
    assert {e.field for e in caught.value.errors} == {"code", "description", "electronic_service",
                                                      "unit_code"}
    product = create_product(praho_session, code="P1", name="  Hosting  ")
    assert product.name == "Hosting"
    with pytest.raises(ValidationFailed) as caught:
        create_price(praho_session, product=product, code="P1-M", currency="RON",
                     unit_amount_minor=100, interval_months=True, effective_from="2026-13-01",
                     nickname="n" * 101)  # type: ignore[arg-type]
    assert {e.field for e in caught.value.errors} == {"interval_months", "effective_from",
                                                      "nickname"}
    assert praho_session.query(Product).count() == 1


def test_draft_lines_check_every_field(praho_session, praho_factory):
    customer = praho_factory.customer()
    line = DraftLine(item_name="Hosting", quantity=Decimal(1), unit_price=Decimal("10"),
                     unit_code="TOO-LONG", line_allowance_reason="r" * 101, tax_class="gold",
                     net_amount_minor="5", product_id="7",  # type: ignore[arg-type]
                     period_start=date(1990, 1, 1))
    with pytest.raises(ValidationFailed) as caught:
        create_draft(praho_session, customer=customer, lines=[line], now=DEFAULT_NOW)
    fields = {e.field for e in caught.value.errors}
    assert {"lines[0].unit_code", "lines[0].line_allowance_reason", "lines[0].net_amount_minor",
            "lines[0].period_start"} <= fields
    assert praho_session.query(Invoice).count() == 0


def test_per_document_bound_on_lines_charges_and_issue(praho_session, praho_factory):
    customer = praho_factory.customer()
    draft = create_draft(praho_session, customer=customer, now=DEFAULT_NOW, lines=[
        DraftLine(item_name="Cluster", quantity=Decimal(1), unit_price=Decimal("700000"))])
    with pytest.raises(FieldError, match="lines: document amount"):
        add_line(praho_session, draft, DraftLine(item_name="Cluster", quantity=Decimal(1),
                                                 unit_price=Decimal("700000")))
    with pytest.raises(FieldError, match="charges: document amount"):
        apply_allowance(praho_session, draft, DraftAllowance(
            amount_minor=40_000_000, reason="Setup", source="test", is_charge=True))
    # 700,000.00 net + 21% VAT = 847,000.00: under the bound. With VAT on 900,000.00 it is not.
    add_line(praho_session, draft, DraftLine(item_name="Support", quantity=Decimal(1),
                                             unit_price=Decimal("200000")))
    with pytest.raises(ValidationFailed) as caught:
        issue_document(praho_session, draft, now=DEFAULT_NOW)
    assert {e.field for e in caught.value.errors} == {"total", "payable"}
    assert draft.status == "draft" and draft.full_number is None


def test_import_refuses_wrong_types_before_touching_the_database(praho_session, praho_factory):
    praho_factory.seller()
    data = {"format": "praho-import/1",
            "seller": {"code": ["X"], "legal_name": "S", "cui": "14399840", "street": "s",
                       "city": "SECTOR1", "county": "RO-B", "iban": "RO49AAAA1B31007593840000",
                       "bank_name": "b" * 101, "email": "a@b.ro", "vat_payer": "yes",
                       "share_capital": "\x00"},
            "prices": [{"code": "P", "product": {"code": "X"}, "currency": "RON",
                        "versions": [{"effective_from": "2026-01-01", "unit_amount_minor": 1}]}],
            "documents": [{"customer": 42, "lines": [{"item_name": "x", "quantity": 1,
                                                      "unit_price": 1}]}]}
    sellers = praho_session.query(Seller).count()
    with pytest.raises(ImportFailed) as caught:  # these raised SQLAlchemy errors before
        import_data(praho_session, data)
    paths = {p.dotted for p in caught.value.problems}
    assert {"seller.code", "seller.bank_name", "seller.vat_payer", "seller.share_capital",
            "prices[0].product", "documents[0].customer"} <= paths
    assert praho_session.query(Seller).count() == sellers
