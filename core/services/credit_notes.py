"""Credit notes (storno) against issued invoices, and proforma-to-invoice conversion."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import FieldError, InvalidTransition, ValidationFailed
from praho.core.models.customers import Customer
from praho.core.models.invoices import (
    DocumentKind,
    DocumentStatus,
    Invoice,
    InvoiceAllowance,
    InvoiceLine,
    LineKind,
)
from praho.core.models.ledger import AccountCode
from praho.core.models.payments import Payment, PaymentAllocation
from praho.core.money import allocate, percent_of, to_major
from praho.core.plugins import get_registry
from praho.core.pricing import DraftLine
from praho.core.services import ledger
from praho.core.services.audit import Actor, record_audit
from praho.core.services.billing_cycles import UNIT_PRICE_PLACES
from praho.core.services.invoicing import (
    FIXED_TAX,
    add_line,
    copy_corrected_tax,
    create_draft,
    fixed_tax,
    realign_allowances,
)
from praho.core.services.issuing import issue_document
from praho.core.services.payment_allocation import lock_invoice, refresh_payment_status
from praho.core.services.taxes import decide_document_taxes
from praho.core.services.totals import compute_totals, line_gross_minor, net_for_gross
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class CreditLine:
    """Credit part of one original line: a quantity, or a net amount in minor units."""

    original_line_id: int
    quantity: Decimal | None = None
    net_amount_minor: int | None = None


def creditable_minor(invoice: Invoice) -> int:
    """Gross amount that can still be credited on an invoice."""
    return invoice.total_minor - invoice.credited_minor


def open_minor(invoice: Invoice) -> int:
    """What the customer still owes on an invoice (negative when paid beyond the credits)."""
    return invoice.payable_minor - invoice.amount_paid_minor - invoice.credited_minor


def paid_excess_to_credit(
    session: Session, invoice: Invoice, credit_note: Invoice, open_before: int, *, now: datetime
) -> int:
    """Move the part of a credit note the customer had already paid to their credit balance.

    A credit note lowers what the customer owes on the invoice. The part of it that was
    still unpaid (``open_before``) simply cancels the receivable; the part already paid
    is money we hold for the customer. It is taken off the payments that paid the
    invoice (newest first: a negative allocation each, so the money is again
    unallocated on the payment it came from, where refunds, credit applications and
    chargebacks find it) and moved from receivable (4111) to customer credit (419) in
    one balanced entry. Returns the amount moved.
    """
    excess = credit_note.total_minor - min(credit_note.total_minor, max(open_before, 0))
    if excess <= 0:
        return 0
    paid_by = session.execute(
        select(PaymentAllocation.payment_id, func.sum(PaymentAllocation.amount_minor))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.invoice_id == invoice.id)
        .group_by(PaymentAllocation.payment_id)
        .having(func.sum(PaymentAllocation.amount_minor) > 0)
        .order_by(PaymentAllocation.payment_id.desc())
    ).all()
    left = excess
    for payment_id, allocated in paid_by:
        part = min(left, int(allocated))
        # Through the relationship, so a payment already loaded sees its new allocation.
        payment = session.get(Payment, payment_id)
        assert payment is not None
        session.add(PaymentAllocation(payment=payment, invoice_id=invoice.id,
                                      amount_minor=-part, source="credited", created_at=now))
        left -= part
        if left == 0:
            break
    moved = excess - left  # what no payment paid cannot become credit (never expected)
    if moved <= 0:
        return 0
    session.flush()
    refresh_payment_status(session, invoice, now=now)
    common: dict[str, Any] = {"customer_id": invoice.customer_id}
    ledger.post_entry(
        session,
        kind="customer_credit",
        memo=f"credit note {credit_note.full_number} to the customer's credit balance",
        postings=[
            # On the credit note's receivable line: it settles the amount the note owes
            # the customer, as paying it out would.
            ledger.debit(
                AccountCode.RECEIVABLE, moved, invoice.currency, invoice_id=credit_note.id,
                **common,
            ),
            ledger.credit(AccountCode.CUSTOMER_CREDIT, moved, invoice.currency, **common),
        ],
        idempotency_key=f"customer-credit:{credit_note.id}",
        source_type="invoice",
        source_id=credit_note.id,
        now=now,
    )
    return moved


def issue_credit_note(
    session: Session,
    original: Invoice,
    *,
    reason: str,
    lines: list[CreditLine] | None = None,
    gross_amount_minor: int | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
    for_refund: bool = False,
) -> Invoice:
    """Issue a credit note for all of an invoice, some lines, or a gross amount.

    The credit note copies the original lines' VAT treatment and exchange rate (it
    corrects that supply, it is not a new one) and never exceeds what remains creditable,
    less what refunds in progress hold. Each line is credited at most its net after its
    discounts, less what earlier credit notes took from it (:func:`line_balances`): a
    quantity is prorated from that net, and anything above it is refused
    (``ValidationFailed``) with nothing written. All of an invoice (``lines`` None) is
    what remains on each line. The part of the note the customer had already paid goes
    to their credit balance (:func:`paid_excess_to_credit`). ``for_refund``: the note is
    a refund's own (refund settlement), which holds its part already and settles the
    paid part itself.
    """
    moment = resolve_now(now)
    reason_text = v.text("reason", reason, max_length=v.LIMITS["note"])
    # Locked before anything is read: two credits at once must not both pass the
    # "what remains creditable" check.
    lock_invoice(session, original)
    if original.kind != DocumentKind.INVOICE or original.status != DocumentStatus.ISSUED:
        raise InvalidTransition("credit notes can only correct issued invoices")
    vetoes = [r for reasons in get_registry().hook.validate_document_action(
        session=session, document=original, action="credit") for r in (reasons or [])]
    if vetoes:
        raise InvalidTransition(f"cannot credit {original.full_number}: " + "; ".join(vetoes))
    if lines is not None and gross_amount_minor is not None:
        raise ValidationFailed([FieldError("lines", "give lines or an amount, not both")])

    balances = line_balances(session, original)
    if gross_amount_minor is not None:
        v.amount_minor("gross_amount_minor", gross_amount_minor)
        if gross_amount_minor <= 0:
            raise ValidationFailed([FieldError("gross_amount_minor", "must be positive")])
        drafts = _lines_for_gross(original, gross_amount_minor, balances)
    else:
        drafts = _lines_for_selection(original, lines, balances)

    customer = session.get(Customer, original.customer_id)
    assert customer is not None
    note = (f"Stornare factura {original.full_number} din {original.issue_date:%d.%m.%Y}: "
            f"{reason_text}")
    credit_note = create_draft(session, customer=customer, kind=DocumentKind.CREDIT_NOTE,
                               currency=original.currency, note=note[:300], now=moment)
    credit_note.seller_id = original.seller_id
    credit_note.original_invoice_id = original.id
    credit_note.tax_point_date = original.tax_point_date
    credit_note.language = original.language
    credit_note.attributes = {"reason": reason_text}
    for draft, source in drafts:
        record = add_line(session, credit_note, draft, now=moment)
        copy_corrected_tax(record, source)

    preview_total = _preview_total(credit_note)
    held = 0 if for_refund else _held_by_refunds(session, original.id)
    room = creditable_minor(original) - held
    if preview_total > room:
        held_text = ", the rest is held by refunds in progress" if held else ""
        raise InvalidTransition(
            f"credit of {to_major(preview_total, original.currency)} exceeds what remains "
            f"creditable on {original.full_number} "
            f"({to_major(max(room, 0), original.currency)}{held_text})"
        )
    open_before = open_minor(original)
    issue_document(session, credit_note, actor=actor, now=moment)
    original.credited_minor += credit_note.total_minor
    original.updated_at = moment
    session.flush()
    to_credit = (
        0 if for_refund
        else paid_excess_to_credit(session, original, credit_note, open_before, now=moment)
    )
    record_audit(session, actor=actor, action="invoice.credited", object_type="invoice",
                 object_id=original.full_number, amount_minor=credit_note.total_minor,
                 currency=original.currency, now=moment,
                 data={"credit_note": credit_note.full_number, "reason": reason_text,
                       "to_customer_credit_minor": to_credit})
    return credit_note


def _held_by_refunds(session: Session, invoice_id: int) -> int:
    # refunds imports this module (it issues credit notes): imported when needed.
    from praho.core.services.refunds import reserved_on_invoice

    return reserved_on_invoice(session, invoice_id)


def _preview_total(invoice: Invoice) -> int:
    return compute_totals(invoice.lines, invoice.allowances).total_minor


@dataclass
class LineBalance:
    """What one invoice line can still be credited, net, in minor units.

    ``net_minor`` is the line's net after its own allowance and its share of the
    document-level allowances and charges: the base actually invoiced for that supply,
    the most a storno may reduce (Cod fiscal art. 287). Issued credit notes took
    ``credited_minor`` of it and ``credited_quantity`` of its units.
    """

    line: InvoiceLine
    net_minor: int
    credited_minor: int = 0
    credited_quantity: Decimal = Decimal(0)

    @property
    def remaining_minor(self) -> int:
        """The net still creditable on the line."""
        return self.net_minor - self.credited_minor

    @property
    def remaining_quantity(self) -> Decimal:
        """The units not yet credited by quantity."""
        return Decimal(self.line.quantity) - self.credited_quantity

    def net_for_quantity(self, quantity: Decimal) -> int:
        """The net of ``quantity`` more units, prorated from ``net_minor``.

        Prorated cumulatively (the units credited so far plus these, less the units so
        far), so the units credited at once or in parts always sum to ``net_minor``.
        """
        whole = Decimal(self.line.quantity)
        return (_prorate(self.net_minor, self.credited_quantity + quantity, whole)
                - _prorate(self.net_minor, self.credited_quantity, whole))

    def take(self, quantity: Decimal, net_minor: int) -> None:
        """Record a credit of ``net_minor`` (and ``quantity`` units) against the line."""
        self.credited_quantity += quantity
        self.credited_minor += net_minor


def line_balances(session: Session, invoice: Invoice) -> dict[int, LineBalance]:
    """What each line of an issued invoice (by line id) can still be credited.

    Earlier credits count through their lines' ``details["original_line_id"]``: the
    lines of the invoice's issued credit notes (proration credits included), and the
    negative lines of the subscription's later invoices that credit unused time.
    """
    shares = _allowance_shares(invoice)
    balances = {line.id: LineBalance(line, line.net_amount_minor - shares[line.id])
                for line in invoice.lines}
    for kind, line in session.execute(_crediting_lines(invoice)):
        balance = balances.get(line.details.get("original_line_id"))
        if balance is None:
            continue
        if kind == DocumentKind.CREDIT_NOTE:
            # Lines written before quantities were recorded count no units; their net
            # still counts, and the net is the bound that matters.
            balance.take(Decimal(line.details.get("credited_quantity", 0)), line.net_amount_minor)
        else:
            balance.take(Decimal(0), -line.net_amount_minor)  # a credit on an invoice is negative
    return balances


def _crediting_lines(invoice: Invoice) -> Select[tuple[str, InvoiceLine]]:
    """Issued document lines that may have credited ``invoice``'s lines."""
    scope = and_(Invoice.kind == DocumentKind.CREDIT_NOTE,
                 Invoice.original_invoice_id == invoice.id)
    if invoice.subscription_id is not None:
        scope = or_(scope, and_(Invoice.kind == DocumentKind.INVOICE, Invoice.id != invoice.id,
                                Invoice.subscription_id == invoice.subscription_id))
    return (select(Invoice.kind, InvoiceLine).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.status == DocumentStatus.ISSUED, scope))


def _prorate(amount_minor: int, part: Decimal, whole: Decimal) -> int:
    """``amount_minor`` x part / whole, rounded half away from zero, in integers only."""
    part_num, part_den = part.as_integer_ratio()
    whole_num, whole_den = whole.as_integer_ratio()
    denominator = part_den * whole_num
    quotient, remainder = divmod(abs(amount_minor) * part_num * whole_den, denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if amount_minor >= 0 else -quotient


def _split_exactly(amount_minor: int, weights: list[int]) -> list[int]:
    """Split a non-negative amount over weights as allowances are split (``allocate``);
    all-zero weights split evenly."""
    return allocate(amount_minor, weights if any(weights) else [1] * len(weights))


def _covered_lines(invoice: Invoice, allowance: InvoiceAllowance) -> list[InvoiceLine]:
    """The lines an allowance was spread over: those it names, else its VAT group's."""
    positions = allowance.details.get("line_positions")
    if positions:
        return [line for line in invoice.lines if line.position in positions]
    key = (allowance.tax_category, Decimal(allowance.tax_rate))
    return [line for line in invoice.lines if (line.tax_category, Decimal(line.tax_rate)) == key]


def _allowance_shares(invoice: Invoice) -> dict[int, int]:
    """Each line's share of the document allowances (charges negative), by line id.

    Shared in proportion to the lines' positive nets; a line that lowers the total (a
    proration credit) takes no share of a discount.
    """
    shares: dict[int, int] = defaultdict(int)
    for allowance in invoice.allowances:
        lines = _covered_lines(invoice, allowance)
        if not lines:
            continue
        sign = -1 if allowance.is_charge else 1
        weights = [max(line.net_amount_minor, 0) for line in lines]
        parts = _split_exactly(allowance.amount_minor, weights)
        for line, part in zip(lines, parts, strict=True):
            shares[line.id] += sign * part
    return shares


def _discount_reason(invoice: Invoice, source: InvoiceLine) -> str | None:
    """The reasons of the discounts a line had, to label the credit line's allowance."""
    reasons = [source.line_allowance_reason] if source.line_allowance_minor else []
    reasons += [a.reason for a in invoice.allowances
                if not a.is_charge and source in _covered_lines(invoice, a)]
    text = "; ".join(dict.fromkeys(reason for reason in reasons if reason))
    return text[:v.LIMITS["allowance_reason"]] or None


def _printed_terms(currency: str, source: InvoiceLine, quantity: Decimal | None,
                   net_minor: int) -> tuple[Decimal, Decimal, int]:
    """Quantity, unit price and line allowance whose result is exactly ``net_minor``.

    A credit line must print quantity x unit price - line allowance = its net (EN 16931
    BR-LIN-04 / BT-131), or the reader sees "1 x 100.00 = 30.00". Credited units keep
    the invoiced unit price and show the discounts they had as a line allowance. An
    amount credit (or a net above the list price, raised by a document charge) prints
    the net per unit, or the whole net as one unit when it does not divide exactly.
    """
    if quantity is not None:
        list_minor = line_gross_minor(quantity, Decimal(source.unit_price), currency)
        if 0 <= net_minor <= list_minor:
            return quantity, Decimal(source.unit_price), list_minor - net_minor
        per_unit = (to_major(abs(net_minor), currency) / quantity).quantize(
            UNIT_PRICE_PLACES, rounding=ROUND_HALF_UP)
        if line_gross_minor(quantity, per_unit, currency) == abs(net_minor):
            return quantity, per_unit, 0
    return Decimal(1), to_major(abs(net_minor), currency), 0


def _credit_draft(original: Invoice, source: InvoiceLine, quantity: Decimal | None,
                  net_minor: int) -> DraftLine:
    """The credit note line for ``net_minor`` of ``source`` (``quantity`` units, or an amount)."""
    shown_quantity, unit_price, allowance = _printed_terms(original.currency, source, quantity,
                                                           net_minor)
    return DraftLine(
        item_name=source.item_name, description=source.description, quantity=shown_quantity,
        unit_price=unit_price, unit_code=source.unit_code, product_id=source.product_id,
        price_id=source.price_id, period_start=source.period_start, period_end=source.period_end,
        kind=LineKind.ADJUSTMENT if net_minor < 0 else source.kind,
        net_amount_minor=net_minor, line_allowance_minor=allowance,
        line_allowance_reason=_discount_reason(original, source) if allowance else None,
        # The VAT of a correction is the corrected supply's: copied, never re-decided.
        # original_line_id and credited_quantity are what later credits are bounded by.
        details={"tax_fixed": True, "original_line_id": source.id,
                 "credited_quantity": str(quantity or 0)},
    )


def _fits(net_minor: int, remaining_minor: int) -> bool:
    """A credit takes at most what remains on the line, in the line's direction."""
    return 0 <= net_minor <= remaining_minor or remaining_minor <= net_minor <= 0


def _full_credit(original: Invoice,
                 balances: dict[int, LineBalance]) -> list[tuple[DraftLine, InvoiceLine]]:
    """Every line's remaining net: the whole invoice, or what earlier credits left of it."""
    drafts = []
    for line in original.lines:
        balance = balances[line.id]
        quantity = balance.remaining_quantity
        if quantity > 0 and balance.net_for_quantity(quantity) == balance.remaining_minor:
            drafts.append((_credit_draft(original, line, quantity, balance.remaining_minor), line))
        elif balance.remaining_minor:
            drafts.append((_credit_draft(original, line, None, balance.remaining_minor), line))
    if not drafts:
        raise InvalidTransition(f"nothing remains to credit on {original.full_number}")
    return drafts


def _selected_balance(original: Invoice, balances: dict[int, LineBalance], field: str,
                      item: Any, errors: v.Collector) -> LineBalance | None:
    """The balance of the line a selection item names, or None after recording why not."""
    if not isinstance(item, CreditLine) or isinstance(item.original_line_id, bool) \
            or not isinstance(item.original_line_id, int):
        errors.errors.append(FieldError(f"{field}.original_line_id",
                                        "must be the id of a line of the invoice"))
        return None
    balance = balances.get(item.original_line_id)
    if balance is None:
        errors.errors.append(FieldError(
            f"{field}.original_line_id",
            f"line {item.original_line_id} is not on {original.full_number}"))
    return balance


def _item_credit(currency: str, field: str, item: CreditLine, balance: LineBalance,
                 errors: v.Collector) -> tuple[Decimal | None, int] | None:
    """The (quantity, net) one selection item credits, or None after recording why not."""
    line = balance.line
    if item.quantity is not None:
        name = f"{field}.quantity"
        quantity = errors.check(v.quantity, name, item.quantity)
        if quantity is None:
            return None
        if quantity > balance.remaining_quantity:
            left, invoiced = balance.remaining_quantity, Decimal(line.quantity)
            errors.errors.append(FieldError(name, (
                "exceeds the invoiced quantity not yet credited "
                f"({left.normalize():f} of {invoiced.normalize():f})")))
            return None
        net = balance.net_for_quantity(quantity)
    elif item.net_amount_minor is not None:
        name, quantity = f"{field}.net_amount_minor", None
        net = errors.check(v.amount_minor, name, item.net_amount_minor)
        if not net:
            return None
    else:
        errors.errors.append(FieldError(field, "give a quantity or a net amount"))
        return None
    if not _fits(net, balance.remaining_minor):
        errors.errors.append(FieldError(name, (
            f"would credit {to_major(net, currency)} but line {line.position} ({line.item_name}) "
            f"has {to_major(balance.remaining_minor, currency)} left to credit, after its "
            f"discounts and earlier credit notes")))
        return None
    return quantity, net


def _lines_for_selection(original: Invoice, selection: list[CreditLine] | None,
                         balances: dict[int, LineBalance]) -> list[tuple[DraftLine, InvoiceLine]]:
    """Credit lines for the whole invoice (``selection`` None) or the items chosen.

    Each item is bounded by its line's balance, items naming the same line included.
    """
    if selection is None:
        return _full_credit(original, balances)
    drafts = []
    errors = v.Collector()
    for index, item in enumerate(selection):
        field = f"lines[{index}]"
        balance = _selected_balance(original, balances, field, item, errors)
        if balance is None:
            continue
        credit = _item_credit(original.currency, field, item, balance, errors)
        if credit is None:
            continue
        quantity, net = credit
        balance.take(quantity or Decimal(0), net)
        drafts.append((_credit_draft(original, balance.line, quantity, net), balance.line))
    errors.raise_if_any()
    if not drafts:
        raise ValidationFailed([FieldError("lines", "nothing to credit")])
    return drafts


def _lines_for_gross(original: Invoice, gross_minor: int,
                     balances: dict[int, LineBalance]) -> list[tuple[DraftLine, InvoiceLine]]:
    """Split a gross amount over the VAT groups, then over the lines, by what remains on them."""
    if gross_minor > creditable_minor(original):
        raise InvalidTransition(
            f"credit of {to_major(gross_minor, original.currency)} exceeds what remains creditable "
            f"on {original.full_number}"
        )
    groups: dict[tuple[str, Decimal], list[LineBalance]] = defaultdict(list)
    for balance in balances.values():
        groups[(balance.line.tax_category, Decimal(balance.line.tax_rate))].append(balance)
    rooms = [(rate, members, sum(b.remaining_minor for b in members))
             for (_, rate), members in groups.items()]
    rooms = [(rate, members, room) for rate, members, room in rooms if room > 0]
    if not rooms:
        raise InvalidTransition(f"nothing remains to credit on {original.full_number}")
    gross_rooms = [room + percent_of(room, rate) for rate, _, room in rooms]
    group_parts = _split_exactly(gross_minor, gross_rooms)
    drafts = []
    for (rate, members, room), gross_part in zip(rooms, group_parts, strict=True):
        net = min(net_for_gross(gross_part, rate), room)
        takers = [b for b in members if b.remaining_minor > 0]
        parts = _split_exactly(net, [b.remaining_minor for b in takers])
        drafts += [(_credit_draft(original, b.line, None, part), b.line)
                   for b, part in zip(takers, parts, strict=True) if part]
    return drafts


def _converted_details(line: InvoiceLine) -> dict[str, Any]:
    """A proforma line's details for its invoice: re-rated, unless it reduces a supply.

    The invoice is taxed at its own tax point, so a line's VAT decision is dropped; a line
    whose VAT was fixed because it reduces an earlier supply (a credit for unused time)
    keeps that supply's VAT (art. 287) and brings it along (``FIXED_TAX``).
    """
    details = {key: value for key, value in line.details.items() if key != "tax_fixed"}
    if line.details.get("tax_fixed"):
        details[FIXED_TAX] = fixed_tax(line)
    return details


def convert_proforma(session: Session, proforma: Invoice, *, actor: Actor | None = None,
                     now: datetime | None = None, tax_point: date | None = None) -> Invoice:
    """Issue the fiscal invoice for a paid proforma, re-rated at the invoice's own tax point.

    The tax point is the day the payment was received (``tax_point``: VAT on an advance
    payment is chargeable when the money arrives, Cod fiscal art. 282), or today when
    none is given. A July proforma at 19% paid in August becomes a 21% invoice; the
    difference is recorded on the invoice (``attributes['conversion']``) so staff can
    explain it.
    """
    moment = resolve_now(now)
    if proforma.kind != DocumentKind.PROFORMA or proforma.status != DocumentStatus.ISSUED:
        raise InvalidTransition("only an issued proforma can be converted")
    if proforma.converted_to_id is not None:
        existing = session.get(Invoice, proforma.converted_to_id)
        assert existing is not None
        return existing
    customer = session.get(Customer, proforma.customer_id)
    assert customer is not None
    invoice = create_draft(session, customer=customer, kind=DocumentKind.INVOICE,
                           currency=proforma.currency, note=proforma.note,
                           period_start=proforma.period_start, period_end=proforma.period_end,
                           now=moment)
    invoice.seller_id = proforma.seller_id
    invoice.converted_from_id = proforma.id
    invoice.subscription_id = proforma.subscription_id
    invoice.attributes = dict(proforma.attributes or {})
    for line in proforma.lines:
        add_line(session, invoice, DraftLine(
            item_name=line.item_name, description=line.description, quantity=line.quantity,
            unit_price=line.unit_price, unit_code=line.unit_code, product_id=line.product_id,
            price_id=line.price_id, kind=line.kind, period_start=line.period_start,
            period_end=line.period_end, net_amount_minor=line.net_amount_minor,
            line_allowance_minor=line.line_allowance_minor,
            line_allowance_reason=line.line_allowance_reason,
            details=_converted_details(line),
        ), now=moment)
    for allowance in proforma.allowances:
        session.add(InvoiceAllowance(
            invoice=invoice, is_charge=allowance.is_charge, amount_minor=allowance.amount_minor,
            base_amount_minor=allowance.base_amount_minor, percent=allowance.percent,
            reason=allowance.reason, reason_code=allowance.reason_code,
            tax_category=allowance.tax_category, tax_rate=allowance.tax_rate,
            source=allowance.source, details=dict(allowance.details),
        ))
    # Rate the invoice at its own tax point now, so the explanation is part of the
    # document before it is frozen; issuing decides the same way again.
    invoice.tax_point_date = tax_point or business_date(moment)
    decide_document_taxes(session, invoice, tax_point=invoice.tax_point_date)
    realign_allowances(invoice)
    new_total = compute_totals(invoice.lines, invoice.allowances).total_minor
    rates_before = sorted({f"{s.tax_category} {s.tax_rate.normalize()}%"
                           for s in proforma.tax_subtotals})
    rates_after = sorted({f"{line.tax_category} {line.tax_rate.normalize()}%"
                          for line in invoice.lines})
    difference = new_total - proforma.total_minor
    explanation = (
        "same VAT treatment as the proforma" if rates_before == rates_after else
        f"VAT re-rated at the invoice tax point {invoice.tax_point_date}: "
        f"{', '.join(rates_before)} on the proforma of {proforma.tax_point_date} became "
        f"{', '.join(rates_after)}"
    )
    invoice.attributes = {**invoice.attributes, "conversion": {
        "proforma": proforma.full_number, "proforma_total_minor": proforma.total_minor,
        "invoice_total_minor": new_total, "difference_minor": difference,
        "explanation": explanation,
    }}
    issue_document(session, invoice, actor=actor, now=moment)
    proforma.converted_to_id = invoice.id
    proforma.updated_at = moment
    session.flush()
    record_audit(session, actor=actor, action="proforma.converted", object_type="invoice",
                 object_id=proforma.full_number, amount_minor=invoice.total_minor,
                 currency=invoice.currency, now=moment,
                 data={"invoice": invoice.full_number, "difference_minor": difference})
    return invoice
