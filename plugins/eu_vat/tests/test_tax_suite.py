"""The table-driven tax suite: one Romanian seller, customers across the EU and beyond,
B2B and B2C, tax points either side of 2025-08-01 and of other rate changes, reduced
rates, reverse charge with VIES (through the local SOAP stand-in), VIES down under both
outage policies, non-EU customers, exempt and zero-rated classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from praho.core.clock import utcnow
from praho.core.errors import TaxDecisionError, TaxDecisionPending
from praho.core.tax import TaxParty, TaxRequest
from praho.plugins.eu_vat.regime import EuVatRegime
from praho.plugins.eu_vat.settings import current_settings
from praho.plugins.eu_vat.testing import FAULT_CODES, INVALID, VALID
from praho.plugins.eu_vat.verification import verify_vat_number
from praho.plugins.eu_vat.vies import client_for

BEFORE = date(2025, 7, 31)  # last day of 19% in Romania
AFTER = date(2025, 8, 1)  # first day of 21%
SELLER = TaxParty(
    country="RO", is_business=True, vat_id="RO14399840", vat_payer=True, county="RO-B"
)
RC_REASON = "Taxare inversa / Reverse charge, art. 196 Directive 2006/112/EC"


@dataclass(frozen=True)
class Case:
    """One row of the table."""

    id: str
    country: str
    tax_point: date
    expect: tuple[str, str] | type[Exception]
    business: bool = True
    vat_id: str | None = None
    vies: str | None = None
    tax_class: str = "standard"
    electronic: bool = True
    settings: dict[str, Any] = field(default_factory=dict)
    # Earlier VIES answers for the number: (VALID or INVALID, days ago), oldest first.
    prior: tuple[tuple[str, int], ...] = ()
    seller: TaxParty = SELLER
    code: str | None = None
    reason: str | None = None
    note: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


OSS = {"oss_registered": True}
WAIT = {"vies_outage_policy": "wait"}
CASES = [
    # --- domestic: Romanian rates either side of 2025-08-01 -------------------------
    Case(
        "ro-b2b-standard-before",
        "RO",
        BEFORE,
        ("S", "19"),
        vat_id="RO18547290",
        note="RO seller, RO customer: RO standard rate 19% (in force from 2024-01-01)",
    ),
    Case(
        "ro-b2b-standard-after",
        "RO",
        AFTER,
        ("S", "21"),
        vat_id="RO18547290",
        note="RO standard rate 21% (in force from 2025-08-01)",
    ),
    Case("ro-b2c-standard-before", "RO", date(2025, 7, 15), ("S", "19"), business=False),
    Case("ro-b2c-standard-after", "RO", date(2025, 8, 15), ("S", "21"), business=False),
    Case("ro-reduced-before", "RO", BEFORE, ("S", "9"), tax_class="reduced"),
    Case("ro-reduced-after", "RO", AFTER, ("S", "11"), tax_class="reduced"),
    Case(
        "ro-reduced2-before",
        "RO",
        BEFORE,
        ("S", "5"),
        tax_class="reduced_2",
        note="RO second reduced rate 5%",
    ),
    Case("ro-reduced2-after", "RO", AFTER, ("S", "11"), tax_class="reduced_2"),
    Case("ro-2024", "RO", date(2024, 3, 1), ("S", "19"), business=False),
    Case("ro-zero", "RO", AFTER, ("Z", "0"), tax_class="zero", note="Zero-rated"),
    Case(
        "ro-exempt",
        "RO",
        AFTER,
        ("E", "0"),
        tax_class="exempt",
        code="VATEX-EU-132",
        reason="Scutit de TVA",
    ),
    Case("ro-non-electronic", "RO", AFTER, ("S", "21"), business=False, electronic=False),
    # --- EU businesses: reverse charge when VIES confirms the number -----------------
    Case(
        "de-b2b-valid-before",
        "DE",
        BEFORE,
        ("AE", "0"),
        vat_id="DE136695976",
        vies=VALID,
        code="VATEX-EU-AE",
        reason=RC_REASON,
        note="valid in VIES on",
        evidence={"status": "valid", "source": "live"},
    ),
    Case(
        "de-b2b-valid-after",
        "DE",
        AFTER,
        ("AE", "0"),
        vat_id="DE136695976",
        vies=VALID,
        code="VATEX-EU-AE",
        reason=RC_REASON,
    ),
    Case(
        "fr-b2b-valid-reduced",
        "FR",
        AFTER,
        ("AE", "0"),
        vat_id="FR40303265045",
        vies=VALID,
        tax_class="reduced",
        code="VATEX-EU-AE",
    ),
    Case(
        "gr-b2b-valid-el-prefix",
        "GR",
        AFTER,
        ("AE", "0"),
        vat_id="EL094259216",
        vies=VALID,
        evidence={"vat_id": "EL094259216"},
    ),
    Case(
        "nl-b2b-valid-zero-class",
        "NL",
        AFTER,
        ("AE", "0"),
        vat_id="NL004495445B01",
        vies=VALID,
        tax_class="zero",
    ),
    Case(
        "it-b2b-valid-oss-on",
        "IT",
        AFTER,
        ("AE", "0"),
        vat_id="IT00743110157",
        vies=VALID,
        settings=OSS,
    ),
    Case(
        "de-b2b-valid-exempt",
        "DE",
        AFTER,
        ("E", "0"),
        vat_id="DE136695976",
        vies=VALID,
        tax_class="exempt",
        code="VATEX-EU-132",
    ),
    Case(
        "nl-b2b-invalid-oss-off",
        "NL",
        date(2025, 7, 15),
        ("S", "19"),
        vat_id="NL004495445B01",
        vies=INVALID,
        note="invalid in VIES",
        evidence={"status": "invalid"},
    ),
    Case(
        "nl-b2b-invalid-oss-on",
        "NL",
        date(2025, 8, 15),
        ("S", "21"),
        vat_id="NL004495445B01",
        vies=INVALID,
        settings=OSS,
        note="NL standard rate 21%",
    ),
    Case(
        "de-company-no-vat-id-oss",
        "DE",
        AFTER,
        ("S", "19"),
        settings=OSS,
        note="EU business without VAT number",
    ),
    # --- EU consumers: OSS destination rates, or the seller's rate below threshold --
    Case(
        "de-b2c-oss",
        "DE",
        date(2025, 8, 15),
        ("S", "19"),
        business=False,
        settings=OSS,
        note="OSS: taxed in the customer's country",
    ),
    Case("fr-b2c-oss", "FR", AFTER, ("S", "20"), business=False, settings=OSS),
    Case("hu-b2c-oss", "HU", AFTER, ("S", "27"), business=False, settings=OSS),
    Case(
        "fi-b2c-oss-before-255", "FI", date(2024, 8, 31), ("S", "24"), business=False, settings=OSS
    ),
    Case(
        "fi-b2c-oss-after-255", "FI", date(2024, 9, 1), ("S", "25.5"), business=False, settings=OSS
    ),
    Case("sk-b2c-oss-2024", "SK", date(2024, 12, 31), ("S", "20"), business=False, settings=OSS),
    Case("sk-b2c-oss-2025", "SK", date(2025, 1, 1), ("S", "23"), business=False, settings=OSS),
    Case("ee-b2c-oss-before", "EE", date(2025, 6, 30), ("S", "22"), business=False, settings=OSS),
    Case("ee-b2c-oss-after", "EE", date(2025, 7, 1), ("S", "24"), business=False, settings=OSS),
    Case("lu-b2c-oss", "LU", AFTER, ("S", "17"), business=False, settings=OSS),
    Case(
        "ie-b2c-oss-reduced",
        "IE",
        AFTER,
        ("S", "13.5"),
        business=False,
        settings=OSS,
        tax_class="reduced",
    ),
    Case(
        "it-b2c-oss-reduced",
        "IT",
        AFTER,
        ("S", "10"),
        business=False,
        settings=OSS,
        tax_class="reduced",
    ),
    Case(
        "dk-b2c-oss-reduced-falls-back",
        "DK",
        AFTER,
        ("S", "25"),
        business=False,
        settings=OSS,
        tax_class="reduced",
        note="DK has no reduced rate",
    ),
    Case(
        "de-b2c-oss-reduced2-falls-back",
        "DE",
        AFTER,
        ("S", "7"),
        business=False,
        settings=OSS,
        tax_class="reduced_2",
        note="DE has no second reduced rate",
    ),
    Case(
        "lt-b2c-oss-reduced-2025",
        "LT",
        date(2025, 12, 31),
        ("S", "9"),
        business=False,
        settings=OSS,
        tax_class="reduced",
    ),
    Case(
        "lt-b2c-oss-reduced-2026",
        "LT",
        date(2026, 1, 1),
        ("S", "12"),
        business=False,
        settings=OSS,
        tax_class="reduced",
    ),
    Case(
        "fi-b2c-oss-reduced-2026",
        "FI",
        date(2026, 1, 1),
        ("S", "13.5"),
        business=False,
        settings=OSS,
        tax_class="reduced",
    ),
    Case(
        "ee-b2c-oss-reduced-2025",
        "EE",
        date(2025, 1, 1),
        ("S", "13"),
        business=False,
        settings=OSS,
        tax_class="reduced",
    ),
    Case(
        "de-b2c-below-threshold-before",
        "DE",
        date(2025, 7, 15),
        ("S", "19"),
        business=False,
        note="below the EUR 10,000 threshold",
    ),
    Case(
        "de-b2c-below-threshold-after",
        "DE",
        date(2025, 8, 15),
        ("S", "21"),
        business=False,
        note="RO standard rate 21%",
    ),
    Case(
        "de-b2c-oss-not-electronic",
        "DE",
        AFTER,
        ("S", "21"),
        business=False,
        settings=OSS,
        electronic=False,
        note="art. 45",
    ),
    Case("fr-b2c-zero", "FR", AFTER, ("Z", "0"), business=False, settings=OSS, tax_class="zero"),
    # --- outside the EU: not subject to VAT -----------------------------------------
    Case(
        "us-b2b",
        "US",
        AFTER,
        ("O", "0"),
        code="VATEX-EU-O",
        note="art. 44",
        reason="place of supply outside the EU",
    ),
    Case("us-b2c", "US", BEFORE, ("O", "0"), business=False, code="VATEX-EU-O", note="art. 59"),
    Case("ch-b2b", "CH", AFTER, ("O", "0"), code="VATEX-EU-O"),
    Case("gb-b2c-reduced", "GB", AFTER, ("O", "0"), business=False, tax_class="reduced"),
    Case("us-exempt-class", "US", AFTER, ("O", "0"), tax_class="exempt", code="VATEX-EU-O"),
    # --- VIES down ---------------------------------------------------------------------
    Case(
        "vies-down-wait",
        "DE",
        AFTER,
        TaxDecisionPending,
        vat_id="DE136695976",
        vies="MS_UNAVAILABLE",
        settings=WAIT,
    ),
    Case(
        "vies-down-fallback-no-cache-oss",
        "DE",
        AFTER,
        ("S", "19"),
        vat_id="DE136695976",
        vies="TIMEOUT",
        settings=OSS,
        note="VIES unavailable (TIMEOUT)",
        evidence={
            "fallback": "non_taxable_customer",
            "fault_code": "TIMEOUT",
            "policy": "fallback",
        },
    ),
    Case(
        "vies-down-fallback-no-cache-below-threshold",
        "DE",
        AFTER,
        ("S", "21"),
        vat_id="DE136695976",
        vies="SERVICE_UNAVAILABLE",
    ),
    Case(
        "vies-down-fallback-last-valid",
        "DE",
        AFTER,
        ("AE", "0"),
        vat_id="DE136695976",
        vies="MS_UNAVAILABLE",
        prior=((VALID, 30),),
        code="VATEX-EU-AE",
        note="last valid VIES answer",
        evidence={"fallback": "last_valid_answer"},
    ),
    Case(
        "vies-down-fallback-too-old",
        "DE",
        AFTER,
        ("S", "21"),
        vat_id="DE136695976",
        vies="MS_UNAVAILABLE",
        prior=((VALID, 120),),
        evidence={"fallback": "non_taxable_customer"},
    ),
    Case(
        "vies-down-fallback-latest-invalid",
        "DE",
        AFTER,
        ("S", "21"),
        vat_id="DE136695976",
        vies="GLOBAL_MAX_CONCURRENT_REQ",
        prior=((VALID, 40), (INVALID, 20)),
    ),
    Case(
        "vies-cached-valid-no-call",
        "DE",
        AFTER,
        ("AE", "0"),
        vat_id="DE136695976",
        vies="MS_UNAVAILABLE",
        prior=((VALID, 1),),
        evidence={"source": "cache"},
    ),
    Case(
        "vies-disabled",
        "DE",
        AFTER,
        ("AE", "0"),
        vat_id="DE136695976",
        vies="MS_UNAVAILABLE",
        settings={"vies_enabled": False},
        evidence={"status": "not_checked"},
    ),
    # --- seller side and bad input ------------------------------------------------------
    Case(
        "seller-not-vat-payer",
        "RO",
        AFTER,
        ("O", "0"),
        seller=TaxParty("RO", True, None, False),
        code="VATEX-EU-O",
        reason="art. 310",
    ),
    Case(
        "seller-outside-eu", "RO", AFTER, TaxDecisionError, seller=TaxParty("US", True, None, True)
    ),
    Case("unknown-tax-class", "RO", AFTER, TaxDecisionError, tax_class="luxury"),
    Case("tax-point-before-coverage", "RO", date(2023, 6, 1), TaxDecisionError),
]


def _seed_prior(session, vies, case: Case) -> None:
    settings = current_settings()
    client = client_for(settings.vies_url, settings.vies_timeout_seconds)
    for outcome, days_ago in case.prior:
        vies.set_outcome(case.vat_id, outcome)
        verify_vat_number(
            session,
            case.vat_id,
            client=client,
            settings=settings,
            requester_vat_id="RO14399840",
            use_cache=False,
            now=utcnow() - timedelta(days=days_ago),
        )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_tax_decision(case, vies, configure, praho_session):
    configure(**case.settings)
    _seed_prior(praho_session, vies, case)
    if case.vat_id and case.vies:
        vies.set_outcome(case.vat_id, case.vies)
    calls_before = len(vies.requests)
    request = TaxRequest(
        seller=case.seller,
        buyer=TaxParty(
            country=case.country,
            is_business=case.business,
            vat_id=case.vat_id,
            vat_payer=bool(case.vat_id),
        ),
        tax_class=case.tax_class,
        electronic_service=case.electronic,
        tax_point=case.tax_point,
        currency="RON",
    )
    if isinstance(case.expect, type):
        with pytest.raises(case.expect):
            EuVatRegime().decide(praho_session, request)
        return
    decision = EuVatRegime().decide(praho_session, request)
    assert (decision.category, decision.rate) == (case.expect[0], Decimal(case.expect[1]))
    assert decision.note, "every decision is explained"
    if case.code:
        assert decision.exemption_code == case.code
    if case.reason:
        assert case.reason in (decision.exemption_reason or "")
    if case.note:
        assert case.note in decision.note, decision.note
    if decision.category in ("AE", "O", "E"):
        assert decision.exemption_code and decision.exemption_reason
    if decision.category == "S":
        rule = next(v for k, v in decision.evidence.items() if k.startswith("eu_vat.rule."))
        assert Decimal(rule["rate"]) == decision.rate
        assert rule["tax_point"] == case.tax_point.isoformat()
    basis = decision.evidence[f"eu_vat.decision.{case.tax_class}"]
    assert basis["tax_point"] == case.tax_point.isoformat()
    for key, value in case.evidence.items():
        assert decision.evidence["vies"][key] == value, decision.evidence["vies"]
    if case.evidence.get("source") == "cache":
        assert len(vies.requests) == calls_before, "a fresh cached answer is not asked again"


def test_the_table_is_large_enough():
    assert len(CASES) >= 40
    assert {c.tax_point < AFTER for c in CASES} == {True, False}


def test_reverse_charge_keeps_vies_evidence(vies, configure, praho_session):
    configure()
    vies.set_outcome("DE136695976", VALID)
    request = TaxRequest(
        SELLER, TaxParty("DE", True, "DE136695976", True), "standard", True, AFTER, "EUR"
    )
    decision = EuVatRegime().decide(praho_session, request)
    evidence = decision.evidence["vies"]
    assert evidence["request_identifier"].startswith("WAPI")
    assert date.fromisoformat(evidence["request_date"]) >= date(2026, 1, 1)
    assert evidence["requester_vat_id"] == "RO14399840"
    assert evidence["request_identifier"] in decision.note
    # The stand-in was asked with checkVatApprox, our VAT id as requester.
    assert vies.requests[-1]["operation"] == "checkVatApprox"
    assert vies.requests[-1]["requesterVatNumber"] == "14399840"


@pytest.mark.parametrize("fault", FAULT_CODES)
def test_every_vies_fault_waits_under_policy_wait_and_is_never_invalid(
    fault, vies, configure, praho_session
):
    configure(vies_outage_policy="wait")
    vies.set_outcome("DE136695976", fault)
    request = TaxRequest(
        SELLER, TaxParty("DE", True, "DE136695976", True), "standard", True, AFTER, "RON"
    )
    with pytest.raises(TaxDecisionPending, match=fault):
        EuVatRegime().decide(praho_session, request)
    from praho.plugins.eu_vat.verification import last_answer

    assert last_answer(praho_session, "DE136695976") is None, (
        "a fault is never recorded as an answer"
    )
