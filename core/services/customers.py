"""Creating and updating customers, with every identifier validated."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, NotFound, ValidationFailed
from praho.core.models.customers import Customer, CustomerKind, CustomerStatus, InvoiceMode
from praho.core.plugins import get_registry
from praho.core.services.audit import Actor, record_audit
from sqlalchemy import func, select
from sqlalchemy.orm import Session


@dataclass
class CustomerInput:
    """What a form, an API call or an import row gives to create or update a customer."""

    legal_name: str
    email: str
    street: str
    city: str
    country: str = "RO"
    kind: str = CustomerKind.COMPANY
    code: str | None = None
    cui: str | None = None
    vat_id: str | None = None
    vat_payer: bool | None = None
    cnp: str | None = None
    trade_register: str | None = None
    phone: str | None = None
    postal_code: str | None = None
    county: str | None = None
    language: str = "ro"
    currency: str = "RON"
    invoice_mode: str = InvoiceMode.INVOICE
    payment_terms_days: int = 14
    tags: list[str] = field(default_factory=list)
    notes: str | None = None

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> CustomerInput:
        """Build from a dict, refusing unknown keys (a typo must not be silently dropped)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationFailed([FieldError(k, "unknown field") for k in unknown])
        missing = [name for name in ("legal_name", "email", "street", "city") if name not in data]
        if missing:
            raise ValidationFailed([FieldError(k, "is required") for k in missing])
        return cls(**data)


def validate_customer(data: CustomerInput) -> dict[str, Any]:
    """Normalise and check every field; raise ValidationFailed listing all problems."""
    c = v.Collector()
    out: dict[str, Any] = {}
    out["kind"] = c.check(v.choice, "kind", data.kind, CustomerKind)
    out["legal_name"] = c.check(v.text, "legal_name", data.legal_name, max_length=v.LIMITS["party_name"])
    out["email"] = c.check(v.email, "email", data.email)
    out["country"] = country = c.check(v.country, "country", data.country) or "RO"
    out["county"] = c.check(v.county, "county", data.county, country_code=country)
    out["street"] = c.check(v.text, "street", data.street, max_length=v.LIMITS["street"])
    city = c.check(v.text, "city", data.city, max_length=v.LIMITS["city"])
    out["city"] = c.check(v.bucharest_city, "city", city, out["county"]) if city else None
    out["postal_code"] = c.check(v.text, "postal_code", data.postal_code,
                                 max_length=v.LIMITS["postal_code"], required=False)
    out["phone"] = c.check(v.text, "phone", data.phone, max_length=40, required=False)
    out["language"] = c.check(v.choice, "language", data.language, ["ro", "en"])
    out["currency"] = c.check(v.currency, "currency", data.currency)
    out["invoice_mode"] = c.check(v.choice, "invoice_mode", data.invoice_mode, InvoiceMode)
    out["trade_register"] = c.check(v.text, "trade_register", data.trade_register, max_length=40,
                                    required=False)
    out["notes"] = c.check(v.text, "notes", data.notes, max_length=2000, required=False)
    out["payment_terms_days"] = c.check(v.integer, "payment_terms_days", data.payment_terms_days,
                                        minimum=0, maximum=365)
    out["tags"] = _tags(c, data.tags)

    out["cui"] = c.check(v.cui, "cui", data.cui) if data.cui else None
    out["vat_id"] = c.check(v.vat_id, "vat_id", data.vat_id) if data.vat_id else None
    out["cnp"] = c.check(v.cnp, "cnp", data.cnp) if data.cnp else None
    if out["kind"] == CustomerKind.COMPANY and country == "RO" and not data.cui:
        c.errors.append(FieldError("cui", "is required for a Romanian company"))
    if out["cnp"] and out["kind"] != CustomerKind.INDIVIDUAL:
        c.errors.append(FieldError("cnp", "is only for individuals"))
    if out["cui"] and out["vat_id"] and out["vat_id"].startswith("RO") and out["vat_id"][2:] != out["cui"]:
        c.errors.append(FieldError("vat_id", "does not match the CUI"))
    if out["vat_id"] and country != "GR" and not out["vat_id"].startswith(country) and country in v.EU_COUNTRIES:
        c.errors.append(FieldError("vat_id", f"prefix does not match country {country}"))
    out["vat_payer"] = (vat_payer_for(out["vat_id"]) if data.vat_payer is None
                        else c.check(v.boolean, "vat_payer", data.vat_payer))
    c.raise_if_any()
    return out


def vat_payer_for(vat_id: str | None) -> bool:
    """Whether a customer is a VAT payer when nobody said: exactly when it has a VAT id."""
    return bool(vat_id)


MAX_TAGS = 50


def _tags(c: v.Collector, tags: Any) -> list[str]:
    """Up to 50 distinct short labels, each checked like any other text."""
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        c.errors.append(FieldError("tags", f"must be a list of at most {MAX_TAGS} short texts"))
        return []
    cleaned = [c.check(v.text, f"tags[{index}]", tag, max_length=40)
               for index, tag in enumerate(tags)]
    return sorted({tag for tag in cleaned if tag is not None})


def _next_code(session: Session) -> str:
    count = session.execute(select(func.count(Customer.id))).scalar_one()
    return f"C{count + 1:06d}"


def create_customer(session: Session, data: CustomerInput, *, actor: Actor | None = None,
                    now: datetime | None = None) -> Customer:
    """Validate and create a customer; fires ``customer_created``."""
    moment = resolve_now(now)
    values = validate_customer(data)
    code = v.code("code", data.code, max_length=40) if data.code else _next_code(session)
    if session.execute(select(Customer.id).where(Customer.code == code)).first():
        raise ValidationFailed([FieldError("code", f"customer code {code!r} already exists")])
    customer = Customer(code=code, status=CustomerStatus.ACTIVE, created_at=moment, attributes={},
                        **values)
    session.add(customer)
    session.flush()
    record_audit(session, actor=actor, action="customer.created", object_type="customer",
                 object_id=customer.code, now=moment, data={"legal_name": customer.legal_name})
    get_registry().hook.customer_created(session=session, customer=customer)
    return customer


def update_customer(session: Session, customer: Customer, changes: dict[str, Any], *,
                    actor: Actor | None = None, now: datetime | None = None) -> Customer:
    """Apply changes after validating the customer as a whole. Issued documents keep
    their own snapshot, so changing an address never alters a past invoice.

    When ``vat_id`` changes and ``changes`` does not set ``vat_payer``, the flag is
    derived again from the new VAT id (:func:`vat_payer_for`), as at creation.
    """
    current = {f.name: getattr(customer, f.name) for f in fields(CustomerInput)}
    merged = CustomerInput.from_mapping({**current, **changes})
    values = validate_customer(merged)
    if changes.get("vat_payer") is None and values["vat_id"] != customer.vat_id:
        # The stored flag was derived from (or set for) the old VAT id; kept, it would
        # print a new VAT payer's fiscal code without RO, or a former one's with it.
        values["vat_payer"] = vat_payer_for(values["vat_id"])
    before = {k: getattr(customer, k) for k in values}
    for key, value in values.items():
        setattr(customer, key, value)
    session.flush()
    diff = {k: [str(before[k]), str(values[k])] for k in values if before[k] != values[k]}
    record_audit(session, actor=actor, action="customer.updated", object_type="customer",
                 object_id=customer.code, now=resolve_now(now), data={"changes": diff})
    return customer


def get_customer(session: Session, code_or_id: str | int) -> Customer:
    """Find a customer by code or id."""
    customer = None
    if isinstance(code_or_id, int) or str(code_or_id).isdigit():
        customer = session.get(Customer, int(code_or_id))
    if customer is None:
        customer = session.execute(select(Customer).where(Customer.code == str(code_or_id))).scalar_one_or_none()
    if customer is None:
        raise NotFound(f"no customer {code_or_id}")
    return customer
