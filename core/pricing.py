"""Value objects that pricing plugins return to the core (prices, extra lines, discounts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class ResolvedPrice:
    """A unit price chosen for a renewal, with who chose it and why."""

    unit_amount_minor: int
    currency: str
    source: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DraftLine:
    """A line a plugin wants on a document; the core decides its VAT."""

    item_name: str
    quantity: Decimal
    unit_price: Decimal
    kind: str = "charge"
    description: str | None = None
    unit_code: str = "C62"
    product_id: int | None = None
    price_id: int | None = None
    period_start: date | None = None
    period_end: date | None = None
    # Set only when the amount must not be recomputed as quantity x unit price
    # (graduated usage tiers): the exact line net in minor units.
    net_amount_minor: int | None = None
    line_allowance_minor: int = 0
    line_allowance_reason: str | None = None
    # Override the product's VAT class (standard, reduced, zero, exempt) for this line.
    tax_class: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DraftAllowance:
    """A document-level discount (or charge when ``is_charge``) a plugin wants applied.

    ``amount_minor`` is the wanted amount; the core caps discounts so a document never
    becomes negative and spreads the allowance over the VAT groups it applies to.
    """

    amount_minor: int
    reason: str
    source: str
    # UNCL 5189 for a discount, UNCL 7161 for a charge; None: 95 (discount) or ZZZ
    # (mutually defined charge), see :func:`allowance_reason_code`.
    reason_code: str | None = None
    percent: Decimal | None = None
    is_charge: bool = False
    applies_to_product_ids: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


# The reason codes EN 16931 accepts (rules BR-CL-19 and BR-CL-20): an e-Factura document
# carrying any other code is refused by ANAF, and an issued invoice cannot be corrected
# except by a storno, so a wrong code is refused before the document is written.
ALLOWANCE_REASON_CODES = frozenset(
    "41 42 60 62 63 64 65 66 67 68 70 71 88 95 100 102 103 104 105".split()
)
CHARGE_REASON_CODES = frozenset(
    """AA AAA AAC AAD AAE AAF AAH AAI AAS AAT AAV AAY AAZ ABA ABB ABC ABD ABF ABK ABL ABN
    ABR ABS ABT ABU ACF ACG ACH ACI ACJ ACK ACL ACM ACS ADC ADE ADJ ADK ADL ADM ADN ADO ADP
    ADQ ADR ADT ADW ADY ADZ AEA AEB AEC AED AEF AEH AEI AEJ AEK AEL AEM AEN AEO AEP AES AET
    AEU AEV AEW AEX AEY AEZ AJ AU CA CAB CAD CAE CAF CAI CAJ CAK CAL CAM CAN CAO CAP CAQ CAR
    CAS CAT CAU CAV CAW CAX CAY CAZ CD CG CS CT DAB DAD DAC DAF DAG DAH DAI DAJ DAK DAL DAM
    DAN DAO DAP DAQ DL EG EP ER FAA FAB FAC FC FH FI GAA HAA HD HH IAA IAB ID IF IR IS KO L1
    LA LAA LAB LF MAE MI ML NAA OA PA PAA PC PL RAB RAC RAD RAF RE RF RH RV SA SAA SAD SAE
    SAI SG SH SM SU TAB TAC TT TV V1 V2 WH XAA YY ZZZ""".split()
)


def allowance_reason_code(allowance: DraftAllowance) -> str:
    """The allowance's reason code, defaulted by kind; ValueError names a code not allowed.

    A discount defaults to 95 (discount, UNCL 5189), a charge to ZZZ (mutually defined,
    UNCL 7161); a code given must belong to the list of its kind.
    """
    code = (allowance.reason_code or "").strip() or ("ZZZ" if allowance.is_charge else "95")
    allowed, kind, code_list = (
        (CHARGE_REASON_CODES, "charge", "UNCL 7161")
        if allowance.is_charge
        else (ALLOWANCE_REASON_CODES, "discount", "UNCL 5189")
    )
    if code not in allowed:
        raise ValueError(f"{code!r} is not a {kind} reason code of the {code_list} list")
    return code
