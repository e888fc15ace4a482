"""``praho demo``: a realistic demo hosting company, created through the public services.

Everything here goes through the same services a real installation uses, so the demo
also shows how to drive PRAHO from Python. It runs on the embedded default (SQLite,
Celery eager) with the plugins of plugin_manifest.toml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from praho.core.models import DocumentKind, Seller
from praho.core.models.audit import ActorType
from praho.core.pricing import DraftLine
from praho.core.services import catalog
from praho.core.services.audit import Actor
from praho.core.services.credit_notes import issue_credit_note
from praho.core.services.customers import CustomerInput, create_customer
from praho.core.services.invoicing import create_draft
from praho.core.services.issuing import issue_document
from sqlalchemy import select
from sqlalchemy.orm import Session

DEMO_ACTOR = Actor(ActorType.CLI, "praho-demo")
DEMO_SELLER_CODE = "PRAHO-DEMO"

PRODUCTS = [
    # code, name (ro), name (en), kind, unit
    ("WEB-START", "Găzduire web Start", "Web Hosting Start", "hosting", "MON"),
    ("WEB-PRO", "Găzduire web Pro", "Web Hosting Pro", "hosting", "MON"),
    ("WEB-BUSINESS", "Găzduire web Business", "Web Hosting Business", "hosting", "MON"),
    ("VPS-2", "Server virtual VPS 2 vCPU", "VPS 2 vCPU", "vps", "MON"),
    ("DOMAIN-RO", "Domeniu .ro", ".ro domain", "domain", "C62"),
    ("SSL-DV", "Certificat SSL DV", "DV SSL certificate", "addon", "C62"),
    ("MAILBOX", "Cutie poștală suplimentară", "Extra mailbox", "addon", "C62"),
    ("SETUP", "Configurare și migrare site", "Site set-up and migration", "service", "C62"),
]
PRICES = [
    # code, product, currency, interval months, minor units
    ("WEB-START-M", "WEB-START", "RON", 1, 1900),
    ("WEB-PRO-M", "WEB-PRO", "RON", 1, 4900),
    ("WEB-PRO-Y", "WEB-PRO", "RON", 12, 49000),
    ("WEB-BUSINESS-M", "WEB-BUSINESS", "RON", 1, 9900),
    ("WEB-PRO-EUR-M", "WEB-PRO", "EUR", 1, 1000),
    ("VPS-2-M", "VPS-2", "RON", 1, 14900),
    ("VPS-2-Q", "VPS-2", "RON", 3, 42000),
    ("DOMAIN-RO-Y", "DOMAIN-RO", "RON", 12, 5500),
    ("SSL-DV-Y", "SSL-DV", "RON", 12, 9900),
    ("MAILBOX-M", "MAILBOX", "RON", 1, 450),
]
CUSTOMERS: list[dict[str, Any]] = [
    {"code": "ACME", "legal_name": "Acme Soluții Digitale SRL", "email": "facturi@acme.example.ro",
     "street": "Str. Memorandumului 28", "city": "Cluj-Napoca", "county": "RO-CJ",
     "postal_code": "400114", "cui": "14399840", "vat_id": "RO14399840",
     "trade_register": "J12/3456/2012", "payment_terms_days": 15},
    {"code": "FLORARIA", "legal_name": "Florăria Ștefănescu SRL", "email": "contact@floraria.example.ro",
     "street": "Bd. Unirii 14", "city": "SECTOR3", "county": "RO-B", "postal_code": "030833",
     "cui": "14399840", "trade_register": "J40/777/2019", "invoice_mode": "proforma"},
    {"code": "POPESCU", "kind": "individual", "legal_name": "Ion Popescu", "email": "ion.popescu@example.ro",
     "street": "Str. Lalelelor 3", "city": "Iași", "county": "RO-IS", "cnp": "1800101221144"},
    {"code": "TURISM", "legal_name": "Țara Turismului SA", "email": "it@turism.example.ro",
     "street": "Calea Dorobanților 99", "city": "SECTOR1", "county": "RO-B", "cui": "14399840",
     "vat_id": "RO14399840", "payment_terms_days": 30, "tags": ["vip"]},
    {"code": "DUPONT", "kind": "individual", "legal_name": "Marie Dupont", "email": "marie@example.fr",
     "street": "12 rue de la République", "city": "Lyon", "country": "FR", "language": "en",
     "currency": "RON"},
    {"code": "EXAMPLEINC", "legal_name": "Example Hosting Inc.", "email": "billing@example.com",
     "street": "500 Congress Ave", "city": "Austin", "country": "US", "language": "en",
     "currency": "RON"},
]


@dataclass
class DemoReport:
    """What the demo created."""

    customers: int = 0
    products: int = 0
    prices: int = 0
    subscriptions: int = 0
    documents: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def demo_exists(session: Session) -> bool:
    """True when the demo company was already created in this database."""
    return session.execute(select(Seller.id).where(Seller.code == DEMO_SELLER_CODE)).first() is not None


def create_demo_company(session: Session, *, today: date) -> DemoReport:
    """Seller, catalog and customers of the demo hosting company."""
    report = DemoReport()
    for seller in session.execute(select(Seller).where(Seller.is_default.is_(True))).scalars():
        seller.is_default = False
    session.add(Seller(
        code=DEMO_SELLER_CODE, legal_name="PRAHO Demo Hosting SRL", cui="14399840",
        vat_id="RO14399840", vat_payer=True, trade_register="J40/1234/2015",
        share_capital="10.000 RON", street="Str. Exemplului 1", city="SECTOR1", postal_code="010011",
        county="RO-B", country="RO", iban="RO49AAAA1B31007593840000", bank_name="Banca Demo SA",
        email="facturare@praho-demo.example.ro", phone="+40 21 000 0000", tax_regime="eu_vat",
        is_default=True,
    ))
    session.flush()
    start = date(today.year - 1, 1, 1)
    products = {}
    for code, name, name_en, kind, unit in PRODUCTS:
        products[code] = catalog.create_product(session, code=code, name=name, name_en=name_en,
                                                kind=kind, unit_code=unit)
        report.products += 1
    for code, product, currency, months, amount in PRICES:
        catalog.create_price(session, product=products[product], code=code, currency=currency,
                             unit_amount_minor=amount, interval_months=months, effective_from=start)
        report.prices += 1
    moment = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    for values in CUSTOMERS:
        create_customer(session, CustomerInput.from_mapping(values), actor=DEMO_ACTOR, now=moment)
        report.customers += 1
    return report


def issue_demo_documents(session: Session, report: DemoReport, *, now: datetime) -> None:
    """One-off documents: a set-up invoice, a proforma, and a partial credit note."""
    from praho.core.services.customers import get_customer

    setup = catalog.get_price(session, "DOMAIN-RO-Y").product
    acme = get_customer(session, "ACME")
    invoice = issue_document(session, create_draft(session, customer=acme, now=now, lines=[
        DraftLine(item_name="Configurare și migrare site", quantity=1, unit_price="350.00"),  # type: ignore[arg-type]
        DraftLine(item_name=setup.name, quantity=2, unit_price="55.00", product_id=setup.id),  # type: ignore[arg-type]
    ]), actor=DEMO_ACTOR, now=now)
    report.documents.append(invoice.full_number or "")
    credit = issue_credit_note(session, invoice, reason="Migrare parțială: un singur site",
                               gross_amount_minor=12100, actor=DEMO_ACTOR, now=now)
    report.documents.append(credit.full_number or "")
    proforma = issue_document(session, create_draft(
        session, customer=get_customer(session, "FLORARIA"), kind=DocumentKind.PROFORMA, now=now,
        lines=[DraftLine(item_name="Găzduire web Business (12 luni)", quantity=12, unit_price="99.00")],  # type: ignore[arg-type]
    ), actor=DEMO_ACTOR, now=now)
    report.documents.append(proforma.full_number or "")
    for code in ("DUPONT", "EXAMPLEINC"):
        foreign = issue_document(session, create_draft(
            session, customer=get_customer(session, code), now=now,
            lines=[DraftLine(item_name="Web Hosting Pro (annual)", quantity=1, unit_price="490.00")],  # type: ignore[arg-type]
        ), actor=DEMO_ACTOR, now=now)
        report.documents.append(foreign.full_number or "")


def collect_demo_payments(session: Session, report: DemoReport, *, now: datetime) -> None:
    """Show collection: a card on file charged through the fake gateway, a bank transfer.

    Only when the ``fake`` gateway (NOT a real gateway) is loaded. ``charge_invoice``
    commits before calling the gateway, so call this in its own transaction.
    """
    from praho.core.services.customers import get_customer
    from praho.core.services.payments import (
        add_payment_method,
        available_gateways,
        charge_invoice,
        open_invoices,
        record_bank_transfer,
    )

    if "fake" not in available_gateways():
        report.notes.append("no fake gateway loaded: demo payments skipped")
        return
    acme = get_customer(session, "ACME")
    card = add_payment_method(session, customer=acme, gateway_id="fake",
                              setup_reference="tok_success", actor=DEMO_ACTOR, now=now)
    for invoice in open_invoices(session, acme.id, "RON"):
        attempt = charge_invoice(session, invoice, now=now, reason="manual", actor=DEMO_ACTOR)
        report.notes.append(f"{invoice.full_number}: charged {card.label()} on the fake gateway, "
                            f"attempt {attempt.status}")
    dupont = get_customer(session, "DUPONT")
    for invoice in open_invoices(session, dupont.id, "RON")[:1]:
        half = invoice.balance_due_minor // 2
        record_bank_transfer(session, customer=dupont, amount_minor=half, currency="RON",
                             bank_reference=f"DEMO-OP-{invoice.id}", received_on=now.date(),
                             allocations=[(invoice, half)], actor=DEMO_ACTOR, now=now)
        report.notes.append(f"{invoice.full_number}: half paid by bank transfer "
                            f"({invoice.payment_status})")


# The hosting plans the demo customers subscribe to: customer, plan price, add-ons, card
# on file (fake gateway magic token; None: pays by bank transfer), trial days.
SUBSCRIPTIONS: list[tuple[str, str, list[tuple[str, int]], str | None, int]] = [
    ("ACME", "WEB-PRO-M", [("MAILBOX-M", 3)], "tok_success", 0),
    ("TURISM", "VPS-2-M", [], "tok_insufficient_funds", 0),
    ("FLORARIA", "WEB-BUSINESS-M", [], None, 0),
    ("POPESCU", "WEB-START-M", [], "tok_success", 14),
]


def start_demo_subscriptions(session: Session, report: DemoReport, *, today: date) -> None:
    """Subscriptions started a month before ``today``, so their renewal is due today.

    Cards are attached first (through the fake gateway, when it is loaded) so that the
    first invoices and the renewals are charged the way a real installation charges them.
    Started before the one-off documents: numbers follow issue dates.
    """
    from praho.core.clock import noon_of
    from praho.core.services.customers import get_customer
    from praho.core.services.payments import add_payment_method, available_gateways
    from praho.core.services.subscription_start import ItemSpec, create_subscription

    started = _month_before(today)
    moment = noon_of(started)
    cards = "fake" in available_gateways()
    for code, plan, addons, token, trial_days in SUBSCRIPTIONS:
        customer = get_customer(session, code)
        if cards and token:
            add_payment_method(session, customer=customer, gateway_id="fake",
                               setup_reference=token, actor=DEMO_ACTOR, now=moment)
        items = [ItemSpec(plan)] + [ItemSpec(price, quantity) for price, quantity in addons]
        subscription = create_subscription(
            session, customer=customer, items=items, billing_cycle=1, start_date=started,
            trial_days=trial_days or None, actor=DEMO_ACTOR, now=moment,
        )
        report.subscriptions += 1
        report.notes.append(f"subscription #{subscription.id}: {code} on {plan}"
                            f"{' with a %d-day trial' % trial_days if trial_days else ''}"
                            f" ({subscription.status})")


def _month_before(today: date) -> date:
    """The same day one month earlier (the last day of that month when it is shorter)."""
    import calendar

    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))
