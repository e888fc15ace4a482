"""UBL building blocks for CIUS-RO: namespaces, amounts, parties and tax categories.

Everything here reads the frozen snapshots of an issued document, never the live
customer or seller rows, so the XML of a document is the same whenever it is rendered.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lxml import etree
from praho.core.money import to_major

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = f"{{{NS_CAC}}}"
CBC = f"{{{NS_CBC}}}"

# A buyer who is a private person without a CNP is identified by thirteen zeros (ANAF).
ANONYMOUS_CNP = "0000000000000"
# Categories whose VAT breakdown must carry an exemption reason (BR-E/AE/O/IC/G-10) ...
EXEMPTION_REQUIRED = {"E", "AE", "O", "K", "G"}
# ... and the default reason code and text when the tax regime gave none.
DEFAULT_EXEMPTIONS = {
    "AE": ("VATEX-EU-AE", "Taxare inversa / Reverse charge"),
    "O": ("VATEX-EU-O", "Operatiune neimpozabila in Romania / Not subject to VAT"),
    "K": ("VATEX-EU-IC", "Livrare intracomunitara scutita / Intra-community supply"),
    "G": ("VATEX-EU-G", "Export scutit / Export outside the EU"),
    "E": (None, "Scutit de TVA / Exempt from VAT"),
}
# CIUS-RO length limits (BR-RO-L*).
MAX_EXEMPTION_REASON = 100
MAX_CONTACT = 100


def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    """Append a child element (``tag`` in Clark notation) with optional text and attributes."""
    element = etree.SubElement(parent, tag, attrs or None)
    if text is not None:
        element.text = text
    return element


def amount(parent: etree._Element, tag: str, minor: int, currency: str) -> etree._Element:
    """An amount element: minor units written as major units with the currency's decimals."""
    return sub(parent, CBC + tag, format(to_major(minor, currency), "f"), currencyID=currency)


def decimal_text(value: Decimal, *, min_places: int = 0) -> str:
    """A decimal without trailing zeros (quantities, unit prices), at least ``min_places``."""
    normalized = value.normalize()
    if normalized == normalized.to_integral_value():
        normalized = normalized.quantize(Decimal(1))
    _, _, exponent = normalized.as_tuple()
    places = max(-int(exponent), min_places)
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")


def percent_text(rate: Decimal) -> str:
    """A VAT rate as UBL expects it (``21.00``)."""
    return decimal_text(Decimal(rate), min_places=2)


def tax_category(
    parent: etree._Element,
    tag: str,
    category: str,
    rate: Decimal,
    exemption: tuple[str | None, str | None] | None = None,
) -> etree._Element:
    """A TaxCategory / ClassifiedTaxCategory; "O" carries no rate (BR-O-05/06/07)."""
    node = sub(parent, CAC + tag)
    sub(node, CBC + "ID", category)
    if category != "O":
        sub(node, CBC + "Percent", percent_text(rate))
    if exemption is not None:
        code, reason = exemption
        if code:
            sub(node, CBC + "TaxExemptionReasonCode", code)
        if reason:
            sub(node, CBC + "TaxExemptionReason", reason[:MAX_EXEMPTION_REASON])
    scheme = sub(node, CAC + "TaxScheme")
    sub(scheme, CBC + "ID", "VAT")
    return node


def exemption_for(
    category: str, code: str | None, reason: str | None
) -> tuple[str | None, str | None] | None:
    """The exemption code and text printed for a category; None where none is allowed (S, Z)."""
    if category not in EXEMPTION_REQUIRED:
        return None
    default_code, default_reason = DEFAULT_EXEMPTIONS.get(category, (None, None))
    return (code or default_code, reason or default_reason)


def _address(parent: etree._Element, party: dict[str, Any]) -> None:
    address = sub(parent, CAC + "PostalAddress")
    sub(address, CBC + "StreetName", party["street"])
    sub(address, CBC + "CityName", party["city"])
    if party.get("postal_code"):
        sub(address, CBC + "PostalZone", party["postal_code"])
    if party.get("county"):
        sub(address, CBC + "CountrySubentity", party["county"])
    country = sub(address, CAC + "Country")
    sub(country, CBC + "IdentificationCode", party["country"])


def _tax_scheme(parent: etree._Element, company_id: str, scheme: str) -> None:
    node = sub(parent, CAC + "PartyTaxScheme")
    sub(node, CBC + "CompanyID", company_id)
    tax_scheme = sub(node, CAC + "TaxScheme")
    sub(tax_scheme, CBC + "ID", scheme)


def _contact(parent: etree._Element, party: dict[str, Any]) -> None:
    phone = (party.get("phone") or "")[:MAX_CONTACT]
    email = party.get("email") or ""
    if len(email) > MAX_CONTACT:
        email = ""
    if not phone and not email:
        return
    contact = sub(parent, CAC + "Contact")
    if phone:
        sub(contact, CBC + "Telephone", phone)
    if email:
        sub(contact, CBC + "ElectronicMail", email)


def seller_party(root: etree._Element, seller: dict[str, Any], *, not_subject_to_vat: bool) -> None:
    """AccountingSupplierParty (BG-4).

    A VAT-registered seller shows its VAT id (BT-31). A seller outside VAT, or any
    document whose supplies are all outside the scope of VAT (category O, where BR-O-02
    forbids VAT identifiers), shows its CUI as tax registration identifier (BT-32).
    """
    party = sub(sub(root, CAC + "AccountingSupplierParty"), CAC + "Party")
    sub(sub(party, CAC + "PartyName"), CBC + "Name", seller["legal_name"])
    _address(party, seller)
    vat_id = seller.get("vat_id") if seller.get("vat_payer") else None
    if vat_id and not not_subject_to_vat:
        _tax_scheme(party, vat_id, "VAT")
    elif seller.get("cui"):
        _tax_scheme(party, seller["cui"], "TAX")
    legal = sub(party, CAC + "PartyLegalEntity")
    sub(legal, CBC + "RegistrationName", seller["legal_name"])
    if seller.get("trade_register"):
        sub(legal, CBC + "CompanyID", seller["trade_register"])
    legal_form = []
    if seller.get("trade_register"):
        legal_form.append(f"Reg. Com. {seller['trade_register']}")
    if seller.get("share_capital"):
        legal_form.append(f"Capital social {seller['share_capital']}")
    if legal_form:
        sub(legal, CBC + "CompanyLegalForm", ", ".join(legal_form))
    _contact(party, seller)


def buyer_legal_id(buyer: dict[str, Any]) -> str | None:
    """BT-47, which CIUS-RO requires when the buyer has no VAT id (BR-RO-120).

    A Romanian company: its CUI. A person: the CNP when known, otherwise thirteen zeros
    (ANAF's convention for buyers without a Romanian identifier, residents or not). A
    foreign company without a VAT id: its registration number when we have it, else the
    same thirteen zeros, so the document stays valid when foreign buyers are reported.
    """
    if buyer.get("cui"):
        return str(buyer["cui"])
    if buyer.get("kind") == "individual" and not buyer.get("vat_id"):
        return buyer.get("cnp") or ANONYMOUS_CNP
    if buyer.get("vat_id"):
        return None
    return buyer.get("trade_register") or ANONYMOUS_CNP


def buyer_party(root: etree._Element, buyer: dict[str, Any], *, not_subject_to_vat: bool) -> None:
    """AccountingCustomerParty (BG-7) with BT-47 and, for VAT-registered buyers, BT-48."""
    party = sub(sub(root, CAC + "AccountingCustomerParty"), CAC + "Party")
    legal_id = buyer_legal_id(buyer)
    if legal_id:
        sub(sub(party, CAC + "PartyIdentification"), CBC + "ID", legal_id)
    sub(sub(party, CAC + "PartyName"), CBC + "Name", buyer["legal_name"])
    _address(party, buyer)
    if buyer.get("vat_id") and not not_subject_to_vat:
        _tax_scheme(party, buyer["vat_id"], "VAT")
    legal = sub(party, CAC + "PartyLegalEntity")
    sub(legal, CBC + "RegistrationName", buyer["legal_name"])
    if legal_id:
        sub(legal, CBC + "CompanyID", legal_id)
    _contact(party, buyer)


def payment_means(root: etree._Element, seller: dict[str, Any], payment_id: str) -> None:
    """BG-16: credit transfer (UNCL 4461 code 30) to the seller's IBAN, the number as reference."""
    means = sub(root, CAC + "PaymentMeans")
    sub(means, CBC + "PaymentMeansCode", "30")
    sub(means, CBC + "PaymentID", payment_id[:140])
    account = sub(means, CAC + "PayeeFinancialAccount")
    sub(account, CBC + "ID", seller["iban"])
    sub(account, CBC + "Name", seller["legal_name"])
