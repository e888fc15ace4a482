"""Issuing the documents of many subscription periods at once: the billing run's hot path.

Each document goes through the same steps, checks and rules as
:func:`praho.core.services.issuing.issue_document` (tests compare the two field by
field), but a chunk of documents is built in memory and written in bulk:

1. **prepare** (per subscription, nothing written): resolve prices, build the lines
   with :func:`invoicing.build_line`, ask plugins for extra lines and discounts, decide
   VAT (memoised per identical tax request: same seller, buyer facts, tax class and
   tax point give the same decision), fix the exchange rate (memoised per currency and
   day), compute totals (EN 16931). Any error is that subscription's failure only.
2. **write** (per chunk): insert drafts, lines, allowances and VAT breakdowns with
   multi-row INSERTs, insert the period claims (the unique constraint that makes the run
   idempotent), then take one block of gapless numbers under the series row lock, stamp
   the documents issued, post one journal entry each and record the audit events. The
   numbering lock is therefore held only for the last statements and the commit, so
   several workers build their chunks in parallel and queue only for that short end.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from praho.core import validation as v
from praho.core.clock import business_date
from praho.core.errors import (
    ExchangeRateUnavailable,
    FieldError,
    InvalidTransition,
    LedgerError,
    ValidationFailed,
)
from praho.core.models.catalog import TaxClass
from praho.core.models.customers import Customer, CustomerStatus
from praho.core.models.invoices import (
    DocumentKind,
    DocumentSeries,
    DocumentStatus,
    Invoice,
    InvoiceAllowance,
    InvoiceLine,
    InvoiceTaxSubtotal,
    PaymentStatus,
)
from praho.core.models.ledger import Account, AccountCode, JournalEntry, JournalLine
from praho.core.models.seller import Seller
from praho.core.models.subscriptions import PendingProration, Subscription, SubscriptionPeriod
from praho.core.pricing import DraftAllowance, DraftLine
from praho.core.services.audit import Actor, record_audit_batch
from praho.core.services.bulk_sql import insert_rows, update_rows
from praho.core.services.invoicing import allowance_records, build_line, realign_allowances
from praho.core.services.issuing import HOME_CURRENCY, party_snapshot, vat_in_ron
from praho.core.services.numbering import default_series, format_number, take_number_block
from praho.core.services.renewal import CatalogCache, ItemCharge, RenewalLines, renewal_lines
from praho.core.services.subscription_state import has_implementations, hooks
from praho.core.services.taxes import apply_decision, buyer_party, regime_for, seller_party
from praho.core.services.totals import DocumentTotals, compute_totals
from praho.core.tax import ExchangeRateQuote, TaxDecision, TaxRequest

# Hooks through which plugins take part in building a renewal document.
PLUGIN_PRICING_HOOKS = ("resolve_subscription_price", "collect_renewal_charges", "collect_renewal_allowances")


@dataclass
class IssueContext:
    """Everything that stays the same for a whole run: the instant, the actor, the caches."""

    session: Session
    now: datetime
    actor: Actor | None = None
    catalog: CatalogCache = field(init=False)
    issue_date: date = field(init=False)
    tax_decisions: dict[TaxRequest, TaxDecision] = field(default_factory=dict)
    rates: dict[str, ExchangeRateQuote | None] = field(default_factory=dict)
    snapshots: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    series: dict[DocumentKind, DocumentSeries] = field(default_factory=dict)
    sellers: dict[int, Seller] = field(default_factory=dict)
    accounts_ready: bool = False
    plugins_answer: bool = field(init=False)
    hooks: Any = field(init=False)

    def __post_init__(self) -> None:
        self.catalog = CatalogCache(self.session)
        self.issue_date = business_date(self.now)
        self.plugins_answer = any(has_implementations(name) for name in PLUGIN_PRICING_HOOKS)
        self.hooks = hooks()

    def seller(self, seller_id: int) -> Seller:
        """A seller by id, held for the run (the identity map alone would let it go)."""
        if seller_id not in self.sellers:
            seller = self.session.get(Seller, seller_id)
            if seller is None:
                raise ValidationFailed([FieldError("seller_id", f"no seller {seller_id}")])
            self.sellers[seller_id] = seller
        return self.sellers[seller_id]

    def snapshot(self, party: Customer | Seller) -> dict[str, Any]:
        """The party snapshot frozen on documents, computed once per party per run."""
        key = (type(party).__name__, party.id)
        if key not in self.snapshots:
            self.snapshots[key] = party_snapshot(party)
        return self.snapshots[key]

    def series_for(self, kind: DocumentKind) -> DocumentSeries:
        """The default numbering series of a document kind."""
        if kind not in self.series:
            self.series[kind] = default_series(self.session, kind)
        return self.series[kind]


@dataclass(slots=True)
class DraftDocumentLine:
    """A line of a document being built in memory: the attributes of :class:`InvoiceLine`."""

    position: int
    kind: str
    item_name: str
    description: str | None
    product_id: int | None
    price_id: int | None
    quantity: Decimal
    unit_code: str
    unit_price: Decimal
    gross_amount_minor: int
    line_allowance_minor: int
    line_allowance_reason: str | None
    net_amount_minor: int
    tax_category: str
    tax_rate: Decimal
    period_start: date | None
    period_end: date | None
    details: dict[str, Any]
    tax_exemption_code: str | None = None
    tax_exemption_reason: str | None = None
    tax_note: str | None = None


@dataclass(slots=True)
class DraftDocument:
    """A renewal document being built in memory, with the attributes of :class:`Invoice`.

    This is the ``invoice`` the renewal hooks receive in the billing run and in
    previews. It is never stored (``id`` is None): the issued document reaches plugins
    through ``invoice_issued`` and ``subscription_renewed``.
    """

    kind: str
    customer_id: int
    seller_id: int
    currency: str
    language: str
    payment_terms_days: int
    period_start: date
    period_end: date
    subscription_id: int
    attributes: dict[str, Any]
    status: str = DocumentStatus.DRAFT
    id: int | None = None
    prepaid_minor: int = 0
    tax_point_date: date | None = None
    tax_regime: str | None = None
    tax_evidence: dict[str, Any] = field(default_factory=dict)
    lines: list[DraftDocumentLine] = field(default_factory=list)
    allowances: list[InvoiceAllowance] = field(default_factory=list)


@dataclass
class PreparedDocument:
    """A document fully computed in memory, waiting to be written."""

    subscription: Subscription
    customer: Customer
    renewal: RenewalLines
    invoice: DraftDocument
    totals: DocumentTotals
    quote: ExchangeRateQuote | None
    billing_run_id: int | None = None


@dataclass(frozen=True)
class IssuedDocument:
    """What the write phase produced for one subscription-period."""

    subscription_id: int
    period_start: date
    invoice_id: int
    full_number: str
    kind: str
    total_minor: int
    currency: str


def prepare_document(ctx: IssueContext, subscription: Subscription, customer: Customer,
                     period_start: date, *, pending: list[PendingProration] | None = None,
                     billing_run_id: int | None = None) -> PreparedDocument:
    """Compute one subscription-period document in memory (same checks as issuing).

    Raises the typed error that explains why this subscription cannot be billed now
    (inactive customer, missing price, invalid customer data, tax decision pending,
    no exchange rate); writes nothing.
    """
    session, now = ctx.session, ctx.now
    if customer.status != CustomerStatus.ACTIVE:
        raise InvalidTransition(f"customer {customer.code} is {customer.status}; cannot bill")
    renewal = renewal_lines(session, subscription, customer, period_start, now=now,
                            catalog=ctx.catalog, pending=pending)
    invoice = DraftDocument(
        kind=renewal.kind, customer_id=customer.id, seller_id=subscription.seller_id,
        currency=subscription.currency, language=customer.language,
        payment_terms_days=customer.payment_terms_days, period_start=renewal.period.start,
        period_end=renewal.period.last_day, subscription_id=subscription.id,
        attributes={"subscription": {"id": subscription.id,
                                     "period_start": renewal.period.start.isoformat(),
                                     "period_end": renewal.period.end.isoformat()}},
    )
    _add_lines(session, invoice, renewal.lines)
    for extra in ctx.hooks.collect_renewal_charges(
            session=session, subscription=subscription, period_start=renewal.period.start,
            period_end=renewal.period.end, invoice=invoice, now=now):
        _add_lines(session, invoice, list(extra or []), prefix="plugin_lines")
    invoice.tax_point_date = ctx.issue_date
    decide_taxes_cached(ctx, invoice)
    for allowances in ctx.hooks.collect_renewal_allowances(session=session, subscription=subscription,
                                                         invoice=invoice, now=now):
        for allowance in allowances or []:
            if not isinstance(allowance, DraftAllowance):
                raise ValidationFailed([FieldError("allowances", f"a plugin returned {allowance!r}")])
            allowance_records(invoice, allowance)
    _check_issuable(customer, invoice)
    realign_allowances(invoice)
    quote = exchange_rate(ctx, invoice.currency)
    totals = compute_totals(invoice.lines, invoice.allowances, prepaid_minor=0)
    errors = v.Collector()
    errors.check(v.amount_minor, "total", totals.total_minor)
    errors.check(v.amount_minor, "taxable", totals.taxable_minor)
    errors.raise_if_any()
    return PreparedDocument(subscription=subscription, customer=customer, renewal=renewal,
                            invoice=invoice, totals=totals, quote=quote, billing_run_id=billing_run_id)


def _add_lines(session: Session, invoice: DraftDocument, lines: list[DraftLine],
               prefix: str = "lines") -> None:
    errors: list[FieldError] = []
    for position, line in enumerate(lines):
        if not isinstance(line, DraftLine):
            errors.append(FieldError(f"{prefix}[{position}]", f"a plugin returned {line!r}"))
            continue
        try:
            build_line(session, invoice, line, factory=DraftDocumentLine)
        except ValidationFailed as failed:
            errors.extend(failed.prefixed(f"{prefix}[{position}].").errors)
    if errors:
        raise ValidationFailed(errors)


def _check_issuable(customer: Customer, invoice: DraftDocument) -> None:
    """The checks issue_document makes before issuing."""
    errors = v.Collector()
    if not invoice.lines:
        errors.errors.append(FieldError("lines", "a document needs at least one line"))
    if customer.country == "RO" and customer.is_business and not customer.cui:
        errors.errors.append(FieldError("customer.cui", "a Romanian company needs its CUI"))
    errors.raise_if_any()


def decide_taxes_cached(ctx: IssueContext, invoice: Any) -> None:
    """decide_document_taxes with a run-wide memo keyed by the complete tax request."""
    seller = ctx.seller(invoice.seller_id)
    customer = ctx.session.get(Customer, invoice.customer_id)
    assert customer is not None
    regime = regime_for(seller)
    seller_facts, buyer_facts = seller_party(seller), buyer_party(customer)
    evidence = dict(invoice.tax_evidence or {})
    assert invoice.tax_point_date is not None
    for line in invoice.lines:
        if line.details.get("tax_fixed"):
            continue
        tax_class, electronic, product_code = _tax_inputs(ctx, line)
        request = TaxRequest(seller=seller_facts, buyer=buyer_facts, tax_class=tax_class,
                             electronic_service=electronic, tax_point=invoice.tax_point_date,
                             currency=invoice.currency, product_code=product_code)
        decision = ctx.tax_decisions.get(request)
        if decision is None:
            decision = regime.decide(ctx.session, request)
            ctx.tax_decisions[request] = decision
        apply_decision(line, decision)
        evidence.update(decision.evidence)
    invoice.tax_regime = regime.id
    invoice.tax_evidence = evidence


def _tax_inputs(ctx: IssueContext, line: Any) -> tuple[str, bool, str | None]:
    """Tax class, electronic-service flag and product code, as taxes.decide_document_taxes reads them."""
    product = ctx.catalog.product(line.product_id) if line.product_id else None
    tax_class = line.details.get("tax_class") or (product.tax_class if product else TaxClass.STANDARD)
    electronic = product.electronic_service if product else bool(line.details.get("electronic_service", True))
    return str(tax_class), electronic, product.code if product else None


def exchange_rate(ctx: IssueContext, currency: str) -> ExchangeRateQuote | None:
    """The BNR rate at the run's tax point, once per currency (as issuing asks for it)."""
    if currency == HOME_CURRENCY:
        return None
    if currency not in ctx.rates:
        ctx.rates[currency] = ctx.hooks.resolve_exchange_rate(
            session=ctx.session, currency=currency, on_date=ctx.issue_date)
    quote = ctx.rates[currency]
    if quote is None:
        raise ExchangeRateUnavailable(
            f"no {currency}/RON exchange rate for tax point {ctx.issue_date}; "
            "fetch BNR rates (praho rates fetch) or enter the rate"
        )
    return quote


# --- the write phase ----------------------------------------------------------------


def write_documents(ctx: IssueContext, prepared: list[PreparedDocument]) -> list[IssuedDocument]:
    """Write prepared documents, claim their periods, number, post and audit them.

    Must run inside a savepoint or transaction the caller can roll back: a claim that
    already exists raises IntegrityError and nothing of the batch may stay.
    """
    if not prepared:
        return []
    session, now = ctx.session, ctx.now
    invoice_ids = insert_rows(session, Invoice.__table__, [_invoice_row(ctx, doc) for doc in prepared],
                              return_ids=True)
    line_rows: list[dict[str, Any]] = []
    allowance_rows: list[dict[str, Any]] = []
    subtotal_rows: list[dict[str, Any]] = []
    for doc, invoice_id in zip(prepared, invoice_ids, strict=True):
        line_rows += [_line_row(line, invoice_id) for line in doc.invoice.lines]
        allowance_rows += [_allowance_row(a, invoice_id) for a in doc.invoice.allowances]
        subtotal_rows += [
            {"invoice_id": invoice_id, "tax_category": g.category, "tax_rate": g.rate,
             "taxable_minor": g.taxable_minor, "tax_minor": g.tax_minor,
             "tax_ron_minor": vat_in_ron(g.taxable_minor, g.rate, doc.invoice.currency, doc.quote),
             "exemption_code": g.exemption_code, "exemption_reason": g.exemption_reason}
            for g in doc.totals.groups
        ]
    insert_rows(session, InvoiceLine.__table__, line_rows)
    insert_rows(session, InvoiceAllowance.__table__, allowance_rows)
    insert_rows(session, InvoiceTaxSubtotal.__table__, subtotal_rows)
    insert_rows(session, SubscriptionPeriod.__table__, [
        {"subscription_id": doc.subscription.id, "period_start": doc.renewal.period.start,
         "period_end": doc.renewal.period.end, "invoice_id": invoice_id,
         "billing_run_id": doc.billing_run_id, "total_minor": doc.totals.total_minor,
         "currency": doc.invoice.currency, "claimed_at": now}
        for doc, invoice_id in zip(prepared, invoice_ids, strict=True)
    ])
    _advance(ctx, prepared)
    for doc, invoice_id in zip(prepared, invoice_ids, strict=True):
        for row in doc.renewal.pending:
            row.invoice_id = invoice_id
    session.flush()
    # From here to the commit the series counter is locked: only what needs the numbers.
    numbers = _assign_numbers(ctx, prepared, invoice_ids)
    _post_entries(ctx, prepared, invoice_ids, numbers)
    issued = []
    audit = []
    for doc, invoice_id in zip(prepared, invoice_ids, strict=True):
        full_number = numbers[invoice_id]
        kind = str(doc.invoice.kind)
        audit.append({"action": f"{kind}.issued", "object_type": "invoice", "object_id": full_number,
                      "amount_minor": doc.totals.total_minor, "currency": doc.invoice.currency,
                      "data": {"customer_id": doc.customer.id, "vat_minor": doc.totals.vat_minor}})
        issued.append(IssuedDocument(doc.subscription.id, doc.renewal.period.start, invoice_id,
                                     full_number, kind, doc.totals.total_minor, doc.invoice.currency))
    record_audit_batch(session, audit, actor=ctx.actor, now=now)
    return issued


def _invoice_row(ctx: IssueContext, doc: PreparedDocument) -> dict[str, Any]:
    invoice, totals, quote = doc.invoice, doc.totals, doc.quote
    if quote is not None:
        vat_ron: int | None = sum(vat_in_ron(g.taxable_minor, g.rate, invoice.currency, quote) or 0
                                  for g in totals.groups)
    else:
        vat_ron = totals.vat_minor if invoice.currency == HOME_CURRENCY else None
    seller = ctx.seller(invoice.seller_id)
    return {
        "kind": str(invoice.kind), "status": str(DocumentStatus.DRAFT), "series_id": None,
        "fiscal_year": None, "number": None, "full_number": None,
        "customer_id": invoice.customer_id, "seller_id": invoice.seller_id,
        "seller_snapshot": ctx.snapshot(seller), "buyer_snapshot": ctx.snapshot(doc.customer),
        "currency": invoice.currency, "language": invoice.language, "issue_date": ctx.issue_date,
        "tax_point_date": invoice.tax_point_date,
        "due_date": ctx.issue_date + timedelta(days=invoice.payment_terms_days),
        "payment_terms_days": invoice.payment_terms_days,
        "exchange_rate": quote.rate if quote else None,
        "exchange_rate_date": quote.rate_date if quote else None,
        "exchange_rate_source": quote.source if quote else None,
        "tax_regime": invoice.tax_regime, "tax_evidence": invoice.tax_evidence,
        "lines_net_minor": totals.lines_net_minor,
        "allowance_total_minor": totals.allowance_total_minor,
        "charge_total_minor": totals.charge_total_minor, "taxable_minor": totals.taxable_minor,
        "vat_minor": totals.vat_minor, "total_minor": totals.total_minor, "prepaid_minor": 0,
        "payable_minor": totals.payable_minor, "vat_ron_minor": vat_ron, "amount_paid_minor": 0,
        "payment_status": str(PaymentStatus.PAID if totals.payable_minor == 0 else PaymentStatus.UNPAID),
        "credited_minor": 0, "refunded_minor": 0, "original_invoice_id": None,
        "converted_from_id": None, "converted_to_id": None, "order_id": None,
        "subscription_id": invoice.subscription_id, "period_start": invoice.period_start,
        "period_end": invoice.period_end, "note": None, "internal_note": None,
        "attributes": invoice.attributes, "issued_at": None, "locked_at": None,
        "issued_by": str(ctx.actor) if ctx.actor else None, "voided_at": None,
        "void_reason": None, "updated_at": None, "created_at": ctx.now,
    }


def _line_row(line: DraftDocumentLine, invoice_id: int) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id, "position": line.position, "kind": str(line.kind),
        "item_name": line.item_name, "description": line.description,
        "product_id": line.product_id, "price_id": line.price_id, "quantity": line.quantity,
        "unit_code": line.unit_code, "unit_price": line.unit_price,
        "gross_amount_minor": line.gross_amount_minor,
        "line_allowance_minor": line.line_allowance_minor,
        "line_allowance_reason": line.line_allowance_reason,
        "net_amount_minor": line.net_amount_minor, "tax_category": line.tax_category,
        "tax_rate": line.tax_rate, "tax_exemption_code": line.tax_exemption_code,
        "tax_exemption_reason": line.tax_exemption_reason, "tax_note": line.tax_note,
        "period_start": line.period_start, "period_end": line.period_end, "details": line.details,
    }


def _allowance_row(allowance: InvoiceAllowance, invoice_id: int) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id, "is_charge": allowance.is_charge,
        "amount_minor": allowance.amount_minor, "base_amount_minor": allowance.base_amount_minor,
        "percent": allowance.percent, "reason": allowance.reason,
        "reason_code": allowance.reason_code, "tax_category": allowance.tax_category,
        "tax_rate": allowance.tax_rate, "source": allowance.source, "details": allowance.details,
    }


def _assign_numbers(ctx: IssueContext, prepared: list[PreparedDocument],
                    invoice_ids: list[int]) -> dict[int, str]:
    """Take one block of gapless numbers per series and stamp the documents issued."""
    by_kind: dict[DocumentKind, list[int]] = defaultdict(list)
    for doc, invoice_id in zip(prepared, invoice_ids, strict=True):
        by_kind[DocumentKind(doc.invoice.kind)].append(invoice_id)
    year = ctx.issue_date.year
    numbers: dict[int, str] = {}
    rows: list[dict[str, Any]] = []
    for kind in sorted(by_kind):
        series = ctx.series_for(kind)
        ids = sorted(by_kind[kind])
        block = take_number_block(ctx.session, series, year, len(ids))
        for invoice_id, number in zip(ids, block, strict=True):
            numbers[invoice_id] = format_number(series, year, number)
            rows.append({"id": invoice_id, "series_id": series.id, "number": number,
                         "full_number": numbers[invoice_id]})
    update_rows(ctx.session, Invoice.__table__, rows, constants={
        "status": str(DocumentStatus.ISSUED), "fiscal_year": year, "issued_at": ctx.now,
        "locked_at": ctx.now})
    return numbers


def _post_entries(ctx: IssueContext, prepared: list[PreparedDocument], invoice_ids: list[int],
                  numbers: dict[int, str]) -> None:
    """One balanced entry per fiscal document, as issuing.post_document_entry posts it."""
    session = ctx.session
    postable = [(doc, invoice_id) for doc, invoice_id in zip(prepared, invoice_ids, strict=True)
                if doc.invoice.kind == DocumentKind.INVOICE and doc.totals.total_minor != 0]
    if not postable:
        return
    if not ctx.accounts_ready:
        needed = {str(AccountCode.RECEIVABLE), str(AccountCode.REVENUE), str(AccountCode.VAT_PAYABLE)}
        known = set(session.execute(select(Account.code).where(Account.code.in_(needed))).scalars())
        if needed - known:
            raise LedgerError(f"invoice_issued: unknown accounts {sorted(needed - known)}")
        ctx.accounts_ready = True
    entry_ids = insert_rows(session, JournalEntry.__table__, [
        {"entry_date": ctx.issue_date, "posted_at": ctx.now, "kind": "invoice_issued",
          "memo": f"invoice {numbers[invoice_id]}"[:300], "source_type": "invoice",
          "source_id": invoice_id, "idempotency_key": f"document-issued:{invoice_id}",
          "reversal_of_id": None}
        for _doc, invoice_id in postable], return_ids=True)
    line_rows = []
    for (doc, invoice_id), entry_id in zip(postable, entry_ids, strict=True):
        totals, currency = doc.totals, doc.invoice.currency
        for account, amount in ((AccountCode.RECEIVABLE, totals.total_minor),
                                (AccountCode.REVENUE, -totals.taxable_minor),
                                (AccountCode.VAT_PAYABLE, -totals.vat_minor)):
            if amount != 0:
                line_rows.append({"entry_id": entry_id, "account_code": str(account),
                                  "customer_id": doc.customer.id, "invoice_id": invoice_id,
                                  "currency": currency, "amount_minor": amount, "description": None})
    insert_rows(session, JournalLine.__table__, line_rows)


def _advance(ctx: IssueContext, prepared: list[PreparedDocument]) -> None:
    """Move each subscription into its billed period; remember what each item cost.

    One UPDATE for the whole batch; the loaded objects get the same values as committed
    state so the session does not write them again.
    """
    rows = []
    for doc in prepared:
        subscription, period = doc.subscription, doc.renewal.period
        rows.append({"id": subscription.id, "current_period_start": period.start,
                     "current_period_end": period.end, "next_billing_date": period.end})
        for key in ("current_period_start", "current_period_end", "next_billing_date"):
            set_committed_value(subscription, key, rows[-1][key])
        set_committed_value(subscription, "updated_at", ctx.now)
        for charge in doc.renewal.charges:
            remember_charge(charge)
    update_rows(ctx.session, Subscription.__table__, rows, constants={"updated_at": ctx.now})


def remember_charge(charge: ItemCharge) -> None:
    """The basis of later proration credits: the full-period unit price and quantity billed."""
    if charge.item.billed_unit_amount_minor != charge.price.unit_amount_minor:
        charge.item.billed_unit_amount_minor = charge.price.unit_amount_minor
    if charge.item.billed_quantity != charge.quantity:
        charge.item.billed_quantity = Decimal(charge.quantity)
