"""``praho import``: create customers, catalog and draft documents from a JSON file.

The format is documented in docs/import.md. The import is all-or-nothing: every item
is tried (inside a savepoint, so one bad item cannot leave half-written rows) and all
problems are collected; if any item failed, :class:`ImportFailed` lists them with
their JSON path and the caller rolls the whole transaction back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from praho.core import validation as v
from praho.core.clock import business_date, resolve_now
from praho.core.errors import FieldError, PrahoError, ValidationFailed
from praho.core.jsoninput import Path
from praho.core.models import Customer, DocumentKind, Price, Product, Seller
from praho.core.pricing import DraftLine
from praho.core.services import catalog, customers
from praho.core.services.audit import Actor, record_audit
from praho.core.services.invoicing import create_draft
from sqlalchemy import select
from sqlalchemy.orm import Session

FORMAT = "praho-import/1"
SECTIONS = ("format", "seller", "customers", "products", "prices", "subscriptions", "documents")


@dataclass
class ImportProblem:
    """One rejected field: its JSON path and why."""

    path: Path
    reason: str

    @property
    def dotted(self) -> str:
        """``customers[2].cui``."""
        text = ""
        for part in self.path:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return text or "(document)"


class ImportFailed(PrahoError):
    """Nothing was imported; ``problems`` lists every rejected field."""

    code = "import_failed"

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        super().__init__(f"import refused: {len(problems)} problem(s)")


@dataclass
class ImportReport:
    """What an import created, by section."""

    created: dict[str, int] = field(default_factory=dict)


def _problems_from(error: PrahoError, path: Path) -> list[ImportProblem]:
    if isinstance(error, ValidationFailed):
        return [ImportProblem((*path, *_split(e.field)), e.reason) for e in error.errors]
    if isinstance(error, FieldError):
        return [ImportProblem((*path, *_split(error.field)), error.reason)]
    return [ImportProblem(path, error.message)]


def _split(dotted: str) -> Path:
    parts: list[str | int] = []
    for chunk in dotted.replace("]", "").split("."):
        name, *indexes = chunk.split("[")
        if name:
            parts.append(name)
        parts.extend(int(i) for i in indexes if i.isdigit())
    return tuple(parts)


def _require_keys(item: Any, path: Path, allowed: set[str], required: set[str]) -> None:
    if not isinstance(item, dict):
        raise ValidationFailed([FieldError("", "must be an object")])
    errors = [FieldError(k, "unknown field") for k in sorted(set(item) - allowed)]
    errors += [FieldError(k, "is required") for k in sorted(required - set(item))]
    if errors:
        raise ValidationFailed(errors)


def import_data(session: Session, data: Any, *, actor: Actor | None = None,
                now: datetime | None = None) -> ImportReport:
    """Import a parsed ``praho-import/1`` document; raise ImportFailed listing all problems."""
    moment = resolve_now(now)
    problems: list[ImportProblem] = []
    report = ImportReport()
    if not isinstance(data, dict):
        raise ImportFailed([ImportProblem((), "the file must contain a JSON object")])
    for key in sorted(set(data) - set(SECTIONS)):
        problems.append(ImportProblem((key,), f"unknown section (expected one of {', '.join(SECTIONS)})"))
    if data.get("format") != FORMAT:
        problems.append(ImportProblem(("format",), f"must be {FORMAT!r}"))
    if problems:
        raise ImportFailed(problems)

    def each(section: str, handler: Callable[[dict[str, Any]], None]) -> None:
        items = data.get(section, [])
        if not isinstance(items, list):
            problems.append(ImportProblem((section,), "must be a list"))
            return
        done = 0
        for index, item in enumerate(items):
            savepoint = session.begin_nested()
            try:
                handler(item)
                savepoint.commit()
                done += 1
            except PrahoError as error:
                savepoint.rollback()
                problems.extend(_problems_from(error, (section, index)))
        report.created[section] = done

    if "seller" in data:
        savepoint = session.begin_nested()
        try:
            _import_seller(session, data["seller"])
            savepoint.commit()
            report.created["seller"] = 1
        except PrahoError as error:
            savepoint.rollback()
            problems.extend(_problems_from(error, ("seller",)))
    each("customers", lambda item: _import_customer(session, item, actor, moment))
    each("products", lambda item: _import_product(session, item))
    each("prices", lambda item: _import_price(session, item, actor, moment))
    each("subscriptions", lambda item: _import_subscription(session, item, actor, moment))
    each("documents", lambda item: _import_document(session, item, moment))
    if problems:
        raise ImportFailed(problems)
    record_audit(session, actor=actor, action="import.completed", object_type="import",
                 object_id=moment.isoformat(), data=report.created, now=moment)
    return report


SELLER_FIELDS = {"code", "legal_name", "cui", "vat_id", "vat_payer", "trade_register",
                 "share_capital", "street", "city", "postal_code", "county", "country", "iban",
                 "bank_name", "email", "phone", "tax_regime"}


def _import_seller(session: Session, item: Any) -> None:
    _require_keys(item, ("seller",), SELLER_FIELDS,
                  {"code", "legal_name", "cui", "street", "city", "iban", "bank_name", "email"})
    c = v.Collector()
    values: dict[str, Any] = {}
    values["code"] = c.check(v.code, "code", item["code"], max_length=40)
    values["cui"] = c.check(v.cui, "cui", item["cui"])
    values["vat_id"] = c.check(v.vat_id, "vat_id", item["vat_id"]) if item.get("vat_id") else None
    if "vat_payer" in item:
        values["vat_payer"] = c.check(v.boolean, "vat_payer", item["vat_payer"])
    else:
        values["vat_payer"] = bool(values["vat_id"])
    values["iban"] = c.check(v.iban, "iban", item["iban"])
    values["email"] = c.check(v.email, "email", item["email"])
    country = c.check(v.country, "country", item.get("country", "RO")) or "RO"
    values["country"] = country
    values["county"] = c.check(v.county, "county", item.get("county"), country_code=country)
    values["legal_name"] = c.check(v.text, "legal_name", item["legal_name"],
                                   max_length=v.LIMITS["party_name"])
    values["street"] = c.check(v.text, "street", item["street"], max_length=v.LIMITS["street"])
    city = c.check(v.text, "city", item["city"], max_length=v.LIMITS["city"])
    values["city"] = c.check(v.bucharest_city, "city", city, values["county"]) if city else None
    for name, limit, required in (("bank_name", 100, True), ("trade_register", 40, False),
                                  ("share_capital", 60, False),
                                  ("postal_code", v.LIMITS["postal_code"], False),
                                  ("phone", 40, False), ("tax_regime", 40, False)):
        values[name] = c.check(v.text, name, item.get(name), max_length=limit, required=required)
    if values["tax_regime"] is None:
        values.pop("tax_regime")
    c.raise_if_any()
    for seller in session.execute(select(Seller).where(Seller.is_default.is_(True))).scalars():
        seller.is_default = False
    existing = session.execute(select(Seller).where(Seller.code == values["code"])).scalar_one_or_none()
    if existing is None:
        session.add(Seller(is_default=True, **values))
    else:
        for key, value in values.items():
            setattr(existing, key, value)
        existing.is_default = True
    session.flush()


def _reference(field: str, value: Any) -> str:
    """A code that refers to a record defined earlier (checked as text before any query)."""
    code = v.text(field, value, max_length=80)
    assert code is not None
    return code


def _import_customer(session: Session, item: Any, actor: Actor | None, now: datetime) -> None:
    if not isinstance(item, dict):
        raise ValidationFailed([FieldError("", "must be an object")])
    customers.create_customer(session, customers.CustomerInput.from_mapping(item), actor=actor, now=now)


PRODUCT_FIELDS = {"code", "name", "name_en", "description", "kind", "tax_class",
                  "electronic_service", "unit_code"}


def _import_product(session: Session, item: Any) -> None:
    _require_keys(item, (), PRODUCT_FIELDS, {"code", "name"})
    catalog.create_product(session, **item)


PRICE_FIELDS = {"code", "product", "currency", "interval_months", "nickname", "versions"}


def _import_price(session: Session, item: Any, actor: Actor | None, now: datetime) -> None:
    _require_keys(item, (), PRICE_FIELDS, {"code", "product", "currency", "versions"})
    product_code = _reference("product", item["product"])
    product = session.execute(select(Product).where(Product.code == product_code)).scalar_one_or_none()
    if product is None:
        raise FieldError("product", f"no product {item['product']!r} (define it under products)")
    versions = item["versions"]
    if not isinstance(versions, list) or not versions:
        raise FieldError("versions", "must list at least one {effective_from, unit_amount_minor}")
    parsed = []
    for index, version in enumerate(versions):
        _require_keys(version, (), {"effective_from", "unit_amount_minor", "note"},
                      {"effective_from", "unit_amount_minor"})
        try:
            parsed.append((v.iso_date("effective_from", version["effective_from"]),
                           v.amount_minor("unit_amount_minor", version["unit_amount_minor"]),
                           version.get("note")))
        except FieldError as error:
            raise FieldError(f"versions[{index}].{error.field}", error.reason) from None
    parsed.sort(key=lambda row: row[0])
    first_date, first_amount, _ = parsed[0]
    price = catalog.create_price(session, product=product, code=item["code"], currency=item["currency"],
                                 unit_amount_minor=first_amount, interval_months=item.get("interval_months"),
                                 effective_from=first_date, nickname=item.get("nickname"), now=now)
    for effective_from, amount, note in parsed[1:]:
        catalog.add_price_version(session, price, unit_amount_minor=amount, effective_from=effective_from,
                                  note=note, actor=actor, now=now)


DOCUMENT_FIELDS = {"customer", "kind", "currency", "note", "lines", "tax_point_date"}
LINE_FIELDS = {"item_name", "description", "quantity", "unit_price", "unit_code", "product", "price",
               "period_start", "period_end", "tax_class"}


def _import_document(session: Session, item: Any, now: datetime) -> None:
    _require_keys(item, (), DOCUMENT_FIELDS, {"customer", "lines"})
    customer_code = _reference("customer", item["customer"])
    customer = session.execute(select(Customer).where(Customer.code == customer_code)).scalar_one_or_none()
    if customer is None:
        raise FieldError("customer", f"no customer {item['customer']!r}")
    kind = v.choice("kind", item.get("kind", "invoice"), [DocumentKind.INVOICE, DocumentKind.PROFORMA])
    lines = item["lines"]
    if not isinstance(lines, list) or not lines:
        raise FieldError("lines", "must list at least one line")
    drafts = []
    for index, line in enumerate(lines):
        try:
            _require_keys(line, (), LINE_FIELDS, {"item_name", "quantity", "unit_price"})
        except ValidationFailed as failed:
            raise failed.prefixed(f"lines[{index}].") from None
        product_id = price_id = None
        if line.get("product"):
            code = _reference(f"lines[{index}].product", line["product"])
            product = session.execute(select(Product).where(Product.code == code)).scalar_one_or_none()
            if product is None:
                raise FieldError(f"lines[{index}].product", f"no product {code!r}")
            product_id = product.id
        if line.get("price"):
            code = _reference(f"lines[{index}].price", line["price"])
            price = session.execute(select(Price).where(Price.code == code)).scalar_one_or_none()
            if price is None:
                raise FieldError(f"lines[{index}].price", f"no price {code!r}")
            price_id = price.id
        periods: dict[str, date] = {}
        for key in ("period_start", "period_end"):
            if line.get(key):
                periods[key] = v.iso_date(f"lines[{index}].{key}", line[key])
        drafts.append(DraftLine(item_name=line["item_name"], description=line.get("description"),
                                quantity=line["quantity"], unit_price=line["unit_price"],
                                unit_code=line.get("unit_code", "C62"), product_id=product_id,
                                price_id=price_id, tax_class=line.get("tax_class"), **periods))
    tax_point = v.iso_date("tax_point_date", item["tax_point_date"]) if item.get("tax_point_date") else None
    create_draft(session, customer=customer, kind=DocumentKind(kind), currency=item.get("currency"),
                 note=item.get("note"), lines=drafts, tax_point_date=tax_point, now=now)


SUBSCRIPTION_FIELDS = {"customer", "items", "billing_cycle", "next_billing_date", "anchor_day",
                       "trial_end", "original_start_date"}


def _import_subscription(session: Session, item: Any, actor: Actor | None, now: datetime) -> None:
    """A running subscription moved from the old system, billed here from its next renewal.

    The period in progress was invoiced (and usually paid) by the old system, so nothing
    is billed at import: the first period PRAHO bills starts on ``next_billing_date``
    (or at ``trial_end`` for a subscription still in its trial).
    """
    from praho.core.services.subscription_start import ItemSpec, create_subscription

    _require_keys(item, (), SUBSCRIPTION_FIELDS - {"quantity"}, {"customer", "items"})
    customer_code = _reference("customer", item["customer"])
    customer = session.execute(select(Customer).where(Customer.code == customer_code)).scalar_one_or_none()
    if customer is None:
        raise FieldError("customer", f"no customer {item['customer']!r}")
    raw_items = item["items"]
    if not isinstance(raw_items, list) or not raw_items:
        raise FieldError("items", "must list at least one {price, quantity} (the plan first)")
    specs = []
    for index, entry in enumerate(raw_items):
        try:
            _require_keys(entry, (), {"price", "quantity"}, {"price"})
        except ValidationFailed as failed:
            raise failed.prefixed(f"items[{index}].") from None
        specs.append(ItemSpec(_reference(f"items[{index}].price", entry["price"]),
                              entry.get("quantity", 1)))
    today = business_date(now)
    attributes: dict[str, Any] = {"imported": True}
    if item.get("original_start_date"):
        attributes["original_start_date"] = v.iso_date(
            "original_start_date", item["original_start_date"]).isoformat()
    if item.get("trial_end"):
        if item.get("next_billing_date"):
            raise FieldError("next_billing_date", "a subscription in trial is first billed at trial_end")
        trial_end = v.iso_date("trial_end", item["trial_end"], earliest=today + timedelta(days=1))
        create_subscription(session, customer=customer, items=specs, billing_cycle=item.get("billing_cycle"),
                            start_date=today, trial_end=trial_end, anchor_day=item.get("anchor_day"),
                            attributes=attributes, bill_now=False, actor=actor, now=now)
        return
    if not item.get("next_billing_date"):
        raise FieldError("next_billing_date", "required: the first renewal PRAHO bills (YYYY-MM-DD)")
    next_billing = v.iso_date("next_billing_date", item["next_billing_date"])
    create_subscription(session, customer=customer, items=specs, billing_cycle=item.get("billing_cycle"),
                        start_date=next_billing, anchor_day=item.get("anchor_day"),
                        attributes=attributes, bill_now=False, actor=actor, now=now)
