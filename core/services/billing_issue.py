"""Issuing the documents of many subscription periods at once: the billing run's hot path.

Each document goes through the same steps, checks and rules as
:func:`praho.core.services.issuing.issue_document` (tests compare the two field by
field), but a chunk of documents is built in memory and written in bulk:

1. **prepare** (per subscription, nothing written): resolve prices, build the lines
   with :func:`invoicing.build_line`, ask plugins for extra lines and discounts, decide
   VAT (memoised per identical tax request: same seller, buyer facts, tax class and
   tax point give the same decision) for every line whose VAT is not fixed (a waiting
   credit brings the VAT of the line it reduces), fix the exchange rate (memoised per
   currency and day), compute totals (EN 16931). Any error is that subscription's
   failure only.
2. **write** (per chunk, :mod:`praho.core.services.billing_write`): the documents,
   their claims and numbers, ledger entries and audit events, in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from praho.core import validation as v
from praho.core.clock import business_date
from praho.core.errors import (
    ExchangeRateUnavailable,
    FieldError,
    InvalidTransition,
    ValidationFailed,
)
from praho.core.models.catalog import TaxClass
from praho.core.models.customers import Customer, CustomerStatus
from praho.core.models.invoices import (
    DocumentKind,
    DocumentSeries,
    DocumentStatus,
    InvoiceAllowance,
)
from praho.core.models.seller import Seller
from praho.core.models.subscriptions import PendingProration, Subscription
from praho.core.pricing import DraftAllowance, DraftLine
from praho.core.services.audit import Actor
from praho.core.services.invoicing import allowance_records, build_line, realign_allowances
from praho.core.services.issuing import HOME_CURRENCY, party_snapshot
from praho.core.services.numbering import default_series
from praho.core.services.renewal import CatalogCache, RenewalLines, renewal_lines
from praho.core.services.subscription_state import has_implementations, hooks
from praho.core.services.taxes import apply_decision, buyer_party, regime_for, seller_party
from praho.core.services.totals import DocumentTotals, compute_totals
from praho.core.tax import ExchangeRateQuote, TaxDecision, TaxRequest
from sqlalchemy.orm import Session


class IsolationNeeded(Exception):  # noqa: N818 - a signal, not an error
    """A subscription failed during an optimistic pass: redo the chunk with savepoints."""


# Hooks through which plugins take part in building a renewal document.
PLUGIN_PRICING_HOOKS = (
    "resolve_subscription_price",
    "collect_renewal_charges",
    "collect_renewal_allowances",
)


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
    # True for the first, optimistic pass over a chunk when plugins take part: no savepoint
    # per subscription; any failure asks for the chunk again with them (IsolationNeeded).
    optimistic: bool = False
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


def prepare_document(
    ctx: IssueContext,
    subscription: Subscription,
    customer: Customer,
    period_start: date,
    *,
    pending: list[PendingProration] | None = None,
    billing_run_id: int | None = None,
) -> PreparedDocument:
    """Compute one subscription-period document in memory (same checks as issuing).

    Raises the typed error that explains why this subscription cannot be billed now
    (inactive customer, missing price, invalid customer data, tax decision pending,
    no exchange rate); writes nothing.
    """
    session, now = ctx.session, ctx.now
    if customer.status != CustomerStatus.ACTIVE:
        raise InvalidTransition(f"customer {customer.code} is {customer.status}; cannot bill")
    renewal = renewal_lines(
        session, subscription, customer, period_start, now=now, catalog=ctx.catalog, pending=pending
    )
    invoice = DraftDocument(
        kind=renewal.kind,
        customer_id=customer.id,
        seller_id=subscription.seller_id,
        currency=subscription.currency,
        language=customer.language,
        payment_terms_days=customer.payment_terms_days,
        period_start=renewal.period.start,
        period_end=renewal.period.last_day,
        subscription_id=subscription.id,
        attributes={
            "subscription": {
                "id": subscription.id,
                "period_start": renewal.period.start.isoformat(),
                "period_end": renewal.period.end.isoformat(),
            }
        },
    )
    _add_lines(session, invoice, renewal.lines)
    for extra in ctx.hooks.collect_renewal_charges(
        session=session,
        subscription=subscription,
        period_start=renewal.period.start,
        period_end=renewal.period.end,
        invoice=invoice,
        now=now,
    ):
        _add_lines(session, invoice, list(extra or []), prefix="plugin_lines")
    invoice.tax_point_date = ctx.issue_date
    decide_taxes_cached(ctx, invoice, customer)
    for allowances in ctx.hooks.collect_renewal_allowances(
        session=session, subscription=subscription, invoice=invoice, now=now
    ):
        for allowance in allowances or []:
            if not isinstance(allowance, DraftAllowance):
                raise ValidationFailed(
                    [FieldError("allowances", f"a plugin returned {allowance!r}")]
                )
            allowance_records(invoice, allowance)
    _check_issuable(customer, invoice)
    realign_allowances(invoice)
    quote = exchange_rate(ctx, invoice.currency)
    totals = compute_totals(invoice.lines, invoice.allowances, prepaid_minor=0)
    errors = v.Collector()
    errors.check(v.amount_minor, "total", totals.total_minor)
    errors.check(v.amount_minor, "taxable", totals.taxable_minor)
    errors.raise_if_any()
    return PreparedDocument(
        subscription=subscription,
        customer=customer,
        renewal=renewal,
        invoice=invoice,
        totals=totals,
        quote=quote,
        billing_run_id=billing_run_id,
    )


def _add_lines(
    session: Session, invoice: DraftDocument, lines: list[DraftLine], prefix: str = "lines"
) -> None:
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


def decide_taxes_cached(ctx: IssueContext, invoice: Any, customer: Customer | None = None) -> None:
    """decide_document_taxes with a run-wide memo keyed by the complete tax request."""
    seller = ctx.seller(invoice.seller_id)
    customer = customer or ctx.session.get(Customer, invoice.customer_id)
    assert customer is not None
    regime = regime_for(seller)
    seller_facts, buyer_facts = seller_party(seller), buyer_party(customer)
    evidence = dict(invoice.tax_evidence or {})
    assert invoice.tax_point_date is not None
    for line in invoice.lines:
        if line.details.get("tax_fixed"):
            continue
        tax_class, electronic, product_code = _tax_inputs(ctx, line)
        request = TaxRequest(
            seller=seller_facts,
            buyer=buyer_facts,
            tax_class=tax_class,
            electronic_service=electronic,
            tax_point=invoice.tax_point_date,
            currency=invoice.currency,
            product_code=product_code,
        )
        decision = ctx.tax_decisions.get(request)
        if decision is None:
            decision = regime.decide(ctx.session, request)
            ctx.tax_decisions[request] = decision
        apply_decision(line, decision)
        evidence.update(decision.evidence)
    invoice.tax_regime = regime.id
    invoice.tax_evidence = evidence


def _tax_inputs(ctx: IssueContext, line: Any) -> tuple[str, bool, str | None]:
    """Tax class, electronic-service flag and product code, read as decide_document_taxes does."""
    product = ctx.catalog.product(line.product_id) if line.product_id else None
    tax_class = line.details.get("tax_class") or (
        product.tax_class if product else TaxClass.STANDARD
    )
    electronic = (
        product.electronic_service
        if product
        else bool(line.details.get("electronic_service", True))
    )
    return str(tax_class), electronic, product.code if product else None


def exchange_rate(ctx: IssueContext, currency: str) -> ExchangeRateQuote | None:
    """The BNR rate at the run's tax point, once per currency (as issuing asks for it)."""
    if currency == HOME_CURRENCY:
        return None
    if currency not in ctx.rates:
        ctx.rates[currency] = ctx.hooks.resolve_exchange_rate(
            session=ctx.session, currency=currency, on_date=ctx.issue_date
        )
    quote = ctx.rates[currency]
    if quote is None:
        raise ExchangeRateUnavailable(
            f"no {currency}/RON exchange rate for tax point {ctx.issue_date}; "
            "fetch BNR rates (praho rates fetch) or enter the rate"
        )
    return quote
