"""Fuzzing the services that take outside input: customers, the import, documents.

Each input either succeeds or raises one of our typed errors (PrahoError); a rejected
input changes nothing: every table's row count is the same afterwards, and no audit
event was appended. The caller's transaction (here a savepoint) is rolled back after a
rejection, as the CLI, the API and the admin do.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from praho.core.errors import FieldError, PrahoError, ValidationFailed
from praho.core.jsoninput import JSONInputError, parse_with_positions
from praho.core.models import Customer, Invoice
from praho.core.pricing import DraftLine
from praho.core.services.customers import CustomerInput, create_customer
from praho.core.services.importer import ImportFailed, import_data
from praho.core.services.invoicing import create_draft
from praho.core.services.issuing import issue_document
from praho.core.testing import DEFAULT_NOW, fuzz_settings, fuzz_tried

# Values a hostile or careless sender puts in a field: valid ones, near misses, wrong types.
hostile_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**12,
                max_value=10**12),
    st.text(max_size=30), st.text(max_size=400),
    st.sampled_from(["RO", "DE", "RON", "EUR", "XXX", "RO-B", "RO-CJ", "SECTOR1", "Cluj",
                     "14399840", "RO14399840", "14399841", "1800101221144", "DE136695976",
                     "RO49AAAA1B31007593840000", "a@b.ro", "not-an-email", "company",
                     "individual", "2026-03-02", "1999-12-31", "2026-02-30", "C62", "MON",
                     "standard", "reduced", "nope", "\x00", "\ud800", "\u202eevil", " ", "1",
                     "0.000001", "1e9", "-5", "NaN"]),
)
hostile_values = st.one_of(hostile_scalars, st.lists(hostile_scalars, max_size=3),
                           st.dictionaries(st.text(max_size=5), hostile_scalars, max_size=2))

CUSTOMER_FIELDS = ["legal_name", "email", "street", "city", "country", "kind", "code", "cui",
                   "vat_id", "vat_payer", "cnp", "trade_register", "phone", "postal_code",
                   "county", "language", "currency", "invoice_mode", "payment_terms_days",
                   "tags", "notes"]
VALID_CUSTOMER = {"legal_name": "Fuzz SRL", "email": "fuzz@example.ro", "street": "Str. A 1",
                  "city": "Cluj-Napoca", "county": "RO-CJ", "cui": "14399840"}


def _audit_count(session) -> int:
    from praho.core.models.audit import AuditEvent

    return session.query(AuditEvent).count()


@pytest.mark.slow
@fuzz_settings(factor=3)
@given(changes=st.dictionaries(st.sampled_from(CUSTOMER_FIELDS + ["colour"]), hostile_values,
                               max_size=6))
def test_customer_creation_accepts_or_rejects_cleanly(praho_session, praho_factory, row_counts,
                                                      changes):
    fuzz_tried("services: create_customer")
    praho_factory.seller()
    before = row_counts()
    savepoint = praho_session.begin_nested()
    try:
        customer = create_customer(praho_session, CustomerInput.from_mapping(
            {**VALID_CUSTOMER, **changes}), now=DEFAULT_NOW)
    except PrahoError as error:
        savepoint.rollback()
        praho_session.expunge_all()  # SQLite reuses the rolled-back ids
        assert error.message
        if isinstance(error, ValidationFailed):
            assert all(e.field and e.reason for e in error.errors)
        assert row_counts() == before
    else:
        praho_session.flush()  # everything accepted is storable (PostgreSQL included)
        assert customer.id and len(customer.legal_name) <= 200
        savepoint.rollback()
        praho_session.expunge_all()


SECTION_ITEMS = {
    "customers": ["code", "kind", "legal_name", "email", "street", "city", "country", "county",
                  "cui", "vat_id", "tags", "payment_terms_days", "currency", "vat_payer"],
    "products": ["code", "name", "kind", "tax_class", "unit_code", "description",
                 "electronic_service", "name_en"],
    "prices": ["code", "product", "currency", "interval_months", "nickname", "versions"],
    "documents": ["customer", "kind", "currency", "note", "lines", "tax_point_date"],
}
VALID_ITEMS = {
    "customers": {"code": "FZ1", "legal_name": "Fuzz SRL", "email": "f@example.ro",
                  "street": "Str. A 1", "city": "SECTOR1", "county": "RO-B", "cui": "14399840"},
    "products": {"code": "FZP", "name": "Fuzz Hosting"},
    "prices": {"code": "FZP-M", "product": "FZP", "currency": "RON",
               "versions": [{"effective_from": "2026-01-01", "unit_amount_minor": 4900}]},
    "documents": {"customer": "FZ1", "lines": [
        {"item_name": "Fuzz Hosting", "quantity": 1, "unit_price": Decimal("49.00")}]},
}
VALID_SELLER = {"code": "FZS", "legal_name": "Fuzz Seller SRL", "cui": "14399840",
                "street": "Str. B 2", "city": "SECTOR1", "county": "RO-B",
                "iban": "RO49AAAA1B31007593840000", "bank_name": "Banca", "email": "s@example.ro",
                "tax_regime": "static"}
LINE_FIELDS = ["item_name", "quantity", "unit_price", "unit_code", "product", "price",
               "period_start", "period_end", "tax_class", "description"]


@st.composite
def import_documents(draw: st.DrawFn) -> dict[str, object]:
    """A praho-import/1 document: valid items with a few fields replaced by hostile values."""
    document: dict[str, object] = {"format": draw(st.sampled_from(["praho-import/1"] * 9 + ["x"]))}
    if draw(st.booleans()):
        seller = dict(VALID_SELLER)
        for key in draw(st.lists(st.sampled_from(sorted(VALID_SELLER) + ["vat_payer", "phone"]),
                                 max_size=2)):
            seller[key] = draw(hostile_values)
        document["seller"] = seller
    for section, fields in SECTION_ITEMS.items():
        items = []
        for _ in range(draw(st.integers(0, 2))):
            item = json.loads(json.dumps(VALID_ITEMS[section], default=str))
            for key in draw(st.lists(st.sampled_from(fields), max_size=2)):
                item[key] = draw(hostile_values)
            if section == "documents" and isinstance(item.get("lines"), list) \
                    and item["lines"] and draw(st.booleans()):
                line = dict(item["lines"][0]) if isinstance(item["lines"][0], dict) else {}
                line[draw(st.sampled_from(LINE_FIELDS))] = draw(hostile_values)
                item["lines"] = [line]
            items.append(item)
        if items or draw(st.booleans()):
            document[section] = items if draw(st.integers(0, 9)) else draw(hostile_values)
    if draw(st.integers(0, 19)) == 0:
        document["payments"] = []
    return document


def _run_import(session, row_counts, data) -> None:
    before, audit_before = row_counts(), _audit_count(session)
    savepoint = session.begin_nested()
    try:
        report = import_data(session, data, now=DEFAULT_NOW)
    except ImportFailed as failed:
        savepoint.rollback()
        session.expunge_all()  # SQLite reuses the rolled-back ids
        assert failed.problems and all(p.reason for p in failed.problems)
        assert row_counts() == before and _audit_count(session) == audit_before
    else:
        session.flush()  # everything accepted is storable (PostgreSQL included)
        assert all(count >= 0 for count in report.created.values())
        savepoint.rollback()
        session.expunge_all()


@pytest.mark.slow
@fuzz_settings(factor=3)
@given(data=import_documents())
def test_import_accepts_or_rejects_cleanly(praho_session, praho_factory, row_counts, data):
    fuzz_tried("services: import_data (structured)")
    praho_factory.seller()
    _run_import(praho_session, row_counts, data)


@pytest.mark.slow
@fuzz_settings(factor=2)
@given(data=import_documents(), cut=st.integers(0, 2000),
       noise=st.sampled_from(["", "}", "]", ",", '"', "{", '"format": 1,', "\\u0000"]))
def test_import_files_from_bytes(praho_session, praho_factory, row_counts, data, cut, noise):
    """The CLI's path: bytes -> parse_with_positions -> import_data, damaged files included."""
    fuzz_tried("services: import file bytes (parse + import)")
    praho_factory.seller()
    text = json.dumps(data, default=str)
    text = text[: cut % (len(text) + 1)] + noise + text[cut % (len(text) + 1):] if noise else text
    try:
        parsed = parse_with_positions(text.encode("utf-8", "surrogatepass"))
    except JSONInputError as error:
        assert error.reason
        return
    _run_import(praho_session, row_counts, parsed.value)


line_specs = st.tuples(
    st.decimals(min_value=Decimal("0.000001"), max_value=10**4, places=6, allow_nan=False,
                allow_infinity=False),
    st.decimals(min_value=0, max_value=10**5, places=6, allow_nan=False, allow_infinity=False),
    st.sampled_from(["standard", "reduced", "zero", "exempt", "reduced_2"]),
)


@pytest.mark.slow
@fuzz_settings(factor=2)
@given(specs=st.lists(line_specs, min_size=1, max_size=6), currency=st.sampled_from(
    ["RON", "EUR", "USD"]), prepaid=st.integers(0, 10**6))
def test_any_draft_issues_and_reconciles_or_is_refused_unchanged(
        praho_session, praho_factory, row_counts, specs, currency, prepaid):
    fuzz_tried("services: create_draft + issue_document")
    customer = praho_factory.customer(currency=currency) if currency != "RON" else \
        praho_factory.customer()
    before = row_counts()
    savepoint = praho_session.begin_nested()
    try:
        draft = create_draft(praho_session, customer=customer, currency=currency,
                             prepaid_minor=prepaid, now=DEFAULT_NOW, lines=[
                                 DraftLine(item_name=f"Line {i}", quantity=q, unit_price=p,
                                           tax_class=t) for i, (q, p, t) in enumerate(specs)])
        invoice = issue_document(praho_session, draft, now=DEFAULT_NOW)
    except PrahoError as error:
        savepoint.rollback()
        praho_session.expunge_all()  # SQLite reuses the rolled-back ids
        assert isinstance(error, FieldError | ValidationFailed), error
        assert row_counts() == before
        return
    praho_session.flush()
    assert invoice.total_minor == invoice.taxable_minor + invoice.vat_minor
    assert invoice.payable_minor == invoice.total_minor - prepaid >= 0
    assert invoice.vat_minor == sum(s.tax_minor for s in invoice.tax_subtotals)
    assert invoice.total_minor <= 100_000_000
    savepoint.rollback()
    praho_session.expunge_all()


def test_per_document_bound_is_enforced_on_drafts_and_issue(praho_session, praho_factory):
    customer = praho_factory.customer()
    # Two lines of 600,000.00 RON each are fine alone; together they pass 1,000,000.00.
    big = DraftLine(item_name="Dedicated cluster", quantity=Decimal(1),
                    unit_price=Decimal("600000.00"))
    try:
        create_draft(praho_session, customer=customer, lines=[big, big], now=DEFAULT_NOW)
    except ValidationFailed as failed:
        assert [(e.field, "exceeds the limit" in e.reason) for e in failed.errors] == [
            ("lines", True)]
    else:
        raise AssertionError("a document over the per-document bound was accepted")
    assert praho_session.query(Invoice).count() == 0
    assert praho_session.query(Customer).count() == 1
