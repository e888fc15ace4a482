"""Asking the seller's tax regime for the VAT of each document line."""

from __future__ import annotations

from datetime import date

from praho.core.errors import TaxDecisionError
from praho.core.models.catalog import Product, TaxClass
from praho.core.models.customers import Customer
from praho.core.models.invoices import Invoice, InvoiceLine
from praho.core.models.seller import Seller
from praho.core.plugins import get_registry
from praho.core.tax import TaxDecision, TaxParty, TaxRegime, TaxRequest
from sqlalchemy.orm import Session


def regime_for(seller: Seller) -> TaxRegime:
    """The registered tax regime named by the seller, or a clear error."""
    regimes = get_registry().objects("register_tax_regimes")
    try:
        regime: TaxRegime = regimes[seller.tax_regime]
    except KeyError:
        raise TaxDecisionError(
            f"seller {seller.code} uses tax regime {seller.tax_regime!r}, which no loaded plugin "
            f"provides (loaded: {sorted(regimes) or 'none'})"
        ) from None
    return regime


def seller_party(seller: Seller) -> TaxParty:
    """Tax facts of the seller."""
    return TaxParty(country=seller.country, is_business=True, vat_id=seller.vat_id,
                    vat_payer=seller.vat_payer, county=seller.county)


def buyer_party(customer: Customer) -> TaxParty:
    """Tax facts of the buyer."""
    return TaxParty(country=customer.country, is_business=customer.is_business,
                    vat_id=customer.vat_id, vat_payer=customer.vat_payer, county=customer.county)


def _line_tax_inputs(session: Session, line: InvoiceLine) -> tuple[str, bool, str | None]:
    product = session.get(Product, line.product_id) if line.product_id else None
    tax_class = line.details.get("tax_class") or (product.tax_class if product else TaxClass.STANDARD)
    electronic = product.electronic_service if product else bool(line.details.get("electronic_service", True))
    return str(tax_class), electronic, product.code if product else None


def decide_document_taxes(session: Session, invoice: Invoice, *, tax_point: date,
                          lines: list[InvoiceLine] | None = None) -> None:
    """Decide VAT for every line whose tax is not fixed (credit-note lines copy theirs).

    Decisions are cached per (tax class, electronic service) within the document, so a
    document with many lines consults VIES at most once.
    """
    seller = session.get(Seller, invoice.seller_id)
    customer = session.get(Customer, invoice.customer_id)
    if seller is None or customer is None:
        raise TaxDecisionError("document has no seller or customer")
    regime = regime_for(seller)
    seller_facts, buyer_facts = seller_party(seller), buyer_party(customer)
    cache: dict[tuple[str, bool], TaxDecision] = {}
    evidence = dict(invoice.tax_evidence or {})
    for line in invoice.lines if lines is None else lines:
        if line.details.get("tax_fixed"):
            continue
        tax_class, electronic, product_code = _line_tax_inputs(session, line)
        key = (tax_class, electronic)
        if key not in cache:
            cache[key] = regime.decide(
                session,
                TaxRequest(seller=seller_facts, buyer=buyer_facts, tax_class=tax_class,
                           electronic_service=electronic, tax_point=tax_point,
                           currency=invoice.currency, product_code=product_code),
            )
        apply_decision(line, cache[key])
        evidence.update(cache[key].evidence)
    invoice.tax_regime = regime.id
    invoice.tax_evidence = evidence


def apply_decision(line: InvoiceLine, decision: TaxDecision) -> None:
    """Copy a decision onto a line, explanation included."""
    line.tax_category = decision.category
    line.tax_rate = decision.rate
    line.tax_exemption_code = decision.exemption_code
    line.tax_exemption_reason = decision.exemption_reason
    line.tax_note = decision.note[:300]
