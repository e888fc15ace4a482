"""Products, prices and dated price versions."""

from __future__ import annotations

from datetime import date, datetime

from praho.core import validation as v
from praho.core.clock import resolve_now
from praho.core.errors import FieldError, NotFound, ValidationFailed
from praho.core.models.catalog import Price, PriceVersion, Product, ProductKind, TaxClass
from praho.core.plugins import get_registry
from praho.core.services.audit import Actor, record_audit
from sqlalchemy import select
from sqlalchemy.orm import Session


def create_product(session: Session, *, code: str, name: str, kind: str = ProductKind.HOSTING,
                   tax_class: str = TaxClass.STANDARD, name_en: str | None = None,
                   description: str | None = None, electronic_service: bool = True,
                   unit_code: str = "C62") -> Product:
    """Create a product after validating its fields."""
    c = v.Collector()
    code = c.check(v.code, "code", code, max_length=60)
    name = c.check(v.text, "name", name, max_length=v.LIMITS["item_name"])
    name_en = c.check(v.text, "name_en", name_en, max_length=v.LIMITS["item_name"], required=False)
    description = c.check(v.text, "description", description, max_length=2000, required=False)
    c.check(v.choice, "kind", kind, ProductKind)
    c.check(v.choice, "tax_class", tax_class, TaxClass)
    c.check(v.boolean, "electronic_service", electronic_service)
    c.check(v.unit_code, "unit_code", unit_code)
    c.raise_if_any()
    if session.execute(select(Product.id).where(Product.code == code)).first():
        raise ValidationFailed([FieldError("code", f"product {code!r} already exists")])
    product = Product(code=code, name=name, name_en=name_en, kind=kind, tax_class=tax_class,
                      description=description, electronic_service=electronic_service,
                      unit_code=unit_code)
    session.add(product)
    session.flush()
    return product


def create_price(session: Session, *, product: Product, code: str, currency: str,
                 unit_amount_minor: int, interval_months: int | None, effective_from: date,
                 nickname: str | None = None, now: datetime | None = None) -> Price:
    """Create a price with its first version."""
    c = v.Collector()
    code = c.check(v.code, "code", code, max_length=80)
    c.check(v.currency, "currency", currency)
    c.check(v.amount_minor, "unit_amount_minor", unit_amount_minor)
    effective_from = c.check(v.iso_date, "effective_from", effective_from)
    nickname = c.check(v.text, "nickname", nickname, max_length=100, required=False)
    if interval_months is not None and (isinstance(interval_months, bool)
                                        or not isinstance(interval_months, int)
                                        or not 1 <= interval_months <= 120):
        c.errors.append(FieldError("interval_months", "must be 1 to 120 months, or empty for one-time"))
    if not isinstance(product, Product):
        c.errors.append(FieldError("product", "must be a catalog product"))
    c.raise_if_any()
    if session.execute(select(Price.id).where(Price.code == code)).first():
        raise ValidationFailed([FieldError("code", f"price {code!r} already exists")])
    price = Price(product=product, code=code, currency=currency, interval_months=interval_months,
                  nickname=nickname)
    session.add(price)
    session.flush()
    session.add(PriceVersion(price=price, effective_from=effective_from,
                             unit_amount_minor=unit_amount_minor, created_at=resolve_now(now)))
    session.flush()
    return price


def add_price_version(session: Session, price: Price, *, unit_amount_minor: int, effective_from: date,
                      note: str | None = None, actor: Actor | None = None,
                      now: datetime | None = None) -> PriceVersion:
    """Schedule a price change from ``effective_from``; fires ``price_changed``.

    A version already in effect is never edited: a change is always a new dated row.
    """
    moment = resolve_now(now)
    c = v.Collector()
    c.check(v.amount_minor, "unit_amount_minor", unit_amount_minor)
    effective_from = c.check(v.iso_date, "effective_from", effective_from)
    note = c.check(v.text, "note", note, max_length=200, required=False)
    c.raise_if_any()
    clash = session.execute(
        select(PriceVersion.id).where(PriceVersion.price_id == price.id,
                                      PriceVersion.effective_from == effective_from)
    ).first()
    if clash:
        raise ValidationFailed([FieldError("effective_from", f"{price.code} already has a version on {effective_from}")])
    version = PriceVersion(price=price, effective_from=effective_from, unit_amount_minor=unit_amount_minor,
                           note=note, created_by=str(actor) if actor else None, created_at=moment)
    session.add(version)
    session.flush()
    record_audit(session, actor=actor, action="price.version_added", object_type="price",
                 object_id=price.code, amount_minor=unit_amount_minor, currency=price.currency,
                 now=moment, data={"effective_from": effective_from.isoformat()})
    get_registry().hook.price_changed(session=session, price=price, version=version, now=moment)
    return version


def price_version_on(session: Session, price: Price, on_date: date) -> PriceVersion:
    """The version of a price in effect on a date."""
    version = session.execute(
        select(PriceVersion).where(PriceVersion.price_id == price.id, PriceVersion.effective_from <= on_date)
        .order_by(PriceVersion.effective_from.desc()).limit(1)
    ).scalar_one_or_none()
    if version is None:
        raise NotFound(f"price {price.code} has no version in effect on {on_date}")
    return version


def get_price(session: Session, code: str) -> Price:
    """Find a price by code."""
    price = session.execute(select(Price).where(Price.code == code)).scalar_one_or_none()
    if price is None:
        raise NotFound(f"no price {code}")
    return price
