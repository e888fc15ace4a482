"""The EU VAT regime: which VAT a line carries, decided at the document's tax point.

Order of the decision (each outcome explained in the line's note and exemption text):

1. The seller is not registered for VAT -> category O (art. 310 Cod fiscal).
2. The buyer is outside the EU -> category O: the place of supply of these services is
   outside the EU (art. 44 for businesses, art. 59 for consumers, Directive 2006/112/EC).
3. Exempt tax class -> category E with the configured exemption text.
4. Buyer in another member state with a VAT number that VIES confirms -> reverse charge,
   category AE (art. 196). VIES down: the outage policy decides (wait or fall back).
5. Zero tax class -> category Z.
6. Otherwise standard/reduced rates (category S) of the country where the supply is taxed:
   the seller's country for domestic sales, for consumers when the seller is not in OSS
   (below the EUR 10,000 threshold, art. 59c) and for services that are not electronically
   supplied (art. 45); the customer's country for electronically supplied services to
   consumers in other member states when the seller is registered for OSS (art. 58).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from praho.core.errors import FieldError, TaxDecisionError, TaxDecisionPending
from praho.core.tax import TaxDecision, TaxRequest
from praho.plugins.eu_vat.models import VatRule
from praho.plugins.eu_vat.rates import EU_MEMBER_STATES, rule_for
from praho.plugins.eu_vat.settings import EuVatSettings, OutagePolicy, current_settings
from praho.plugins.eu_vat.verification import (
    VatNumberStatus,
    Verification,
    last_answer,
    split_vat_id,
    verify_vat_number,
)
from praho.plugins.eu_vat.vies import client_for
from sqlalchemy.orm import Session

REVERSE_CHARGE_CODE = "VATEX-EU-AE"
REVERSE_CHARGE_REASON = "Taxare inversa / Reverse charge, art. 196 Directive 2006/112/EC"
OUTSIDE_SCOPE_CODE = "VATEX-EU-O"
OUTSIDE_EU_REASON = (
    "Operatiune neimpozabila in UE / Not subject to VAT in the EU: place of supply "
    "outside the EU (art. 44 and 59 Directive 2006/112/EC)"
)
NOT_REGISTERED_REASON = (
    "Furnizor neinregistrat in scopuri de TVA / Supplier not registered for VAT "
    "(art. 310 Cod fiscal)"
)
TAX_CLASSES = ("standard", "reduced", "reduced_2", "zero", "exempt")
_CLASS_LABELS = {
    "standard": "standard rate",
    "reduced": "reduced rate",
    "reduced_2": "second reduced rate",
}
# Country names use the ISO code; VAT prefixes and VIES use EL for Greece.
_ISO_FOR_PREFIX = {"EL": "GR"}


@dataclass(frozen=True)
class _BusinessCheck:
    """The outcome of checking an EU business customer: reverse charge or not, and why."""

    reverse_charge: bool
    note: str
    evidence: dict[str, Any]


def _iso(country: str) -> str:
    code = (country or "").strip().upper()
    return _ISO_FOR_PREFIX.get(code, code)


def _rate_text(rate: Decimal) -> str:
    return f"{rate.normalize():f}%"


class EuVatRegime:
    """Tax regime ``eu_vat`` for sellers established in an EU member state."""

    id = "eu_vat"

    def decide(self, session: Session, request: TaxRequest) -> TaxDecision:
        """Decide one line's VAT at ``request.tax_point`` (see the module docstring)."""
        settings = current_settings()
        seller_country, buyer_country = _iso(request.seller.country), _iso(request.buyer.country)
        tax_class = request.tax_class
        if seller_country not in EU_MEMBER_STATES:
            raise TaxDecisionError(
                f"regime eu_vat is for sellers established in the EU; the seller's "
                f"country is {request.seller.country!r}"
            )
        if tax_class not in TAX_CLASSES:
            raise TaxDecisionError(
                f"unknown tax class {tax_class!r}; expected one of {', '.join(TAX_CLASSES)}"
            )
        basis = {
            "tax_point": request.tax_point.isoformat(),
            "seller_country": seller_country,
            "buyer_country": buyer_country,
            "tax_class": tax_class,
        }

        if not request.seller.vat_payer:
            return self._decision(
                "O",
                Decimal(0),
                "Seller not registered for VAT: no VAT charged",
                OUTSIDE_SCOPE_CODE,
                NOT_REGISTERED_REASON,
                {**basis, "basis": "seller_not_registered"},
            )
        if buyer_country not in EU_MEMBER_STATES:
            return self._decision(
                "O",
                Decimal(0),
                f"Customer outside the EU ({buyer_country}): not subject to EU VAT "
                f"({'art. 44' if request.buyer.is_business else 'art. 59'} Directive 2006/112/EC)",
                OUTSIDE_SCOPE_CODE,
                OUTSIDE_EU_REASON,
                {**basis, "basis": "outside_eu"},
            )
        if tax_class == "exempt":
            return self._decision(
                "E",
                Decimal(0),
                "Exempt supply: no VAT charged",
                settings.exempt_code,
                settings.exempt_reason,
                {**basis, "basis": "exempt"},
            )

        prefix = ""
        extra_evidence: dict[str, Any] = {}
        if buyer_country != seller_country:
            if request.buyer.is_business and request.buyer.vat_id:
                check = self._check_business(session, request, settings)
                extra_evidence = check.evidence
                if check.reverse_charge:
                    return self._decision(
                        "AE",
                        Decimal(0),
                        check.note,
                        REVERSE_CHARGE_CODE,
                        REVERSE_CHARGE_REASON,
                        {**basis, "basis": "reverse_charge"},
                        extra_evidence,
                    )
                prefix = check.note + "; "
            elif request.buyer.is_business:
                prefix = (
                    "EU business without VAT number: non-taxable customer (art. 18 Reg. 282/2011); "
                )

        if tax_class == "zero":
            return self._decision(
                "Z",
                Decimal(0),
                prefix + "Zero-rated supply",
                None,
                None,
                {**basis, "basis": "zero_rated"},
                extra_evidence,
            )

        country, why, basis_code = self._taxing_country(
            request, seller_country, buyer_country, settings
        )
        rule = rule_for(session, country, tax_class, request.tax_point)
        note = (
            f"{prefix}{why}: {country} {_CLASS_LABELS[rule.tax_class]} {_rate_text(rule.rate)} "
            f"(in force from {rule.valid_from.isoformat()})"
        )
        if rule.tax_class != tax_class:
            note += f"; {country} has no {_CLASS_LABELS[tax_class]}"
        evidence = {
            **extra_evidence,
            f"eu_vat.rule.{tax_class}": self._rule_evidence(rule, request),
        }
        return self._decision(
            "S", rule.rate, note, None, None, {**basis, "basis": basis_code}, evidence
        )

    # --- pieces ------------------------------------------------------------------

    @staticmethod
    def _decision(
        category: str,
        rate: Decimal,
        note: str,
        code: str | None,
        reason: str | None,
        basis: dict[str, Any],
        evidence: dict[str, Any] | None = None,
    ) -> TaxDecision:
        data = dict(evidence or {})
        data[f"eu_vat.decision.{basis['tax_class']}"] = {
            **basis,
            "category": category,
            "rate": str(rate),
        }
        return TaxDecision(
            category=category,
            rate=rate,
            note=note[:300],
            exemption_code=code,
            exemption_reason=reason,
            evidence=data,
        )

    @staticmethod
    def _rule_evidence(rule: VatRule, request: TaxRequest) -> dict[str, Any]:
        return {
            "country": rule.country,
            "tax_class": rule.tax_class,
            "rate": str(rule.rate),
            "valid_from": rule.valid_from.isoformat(),
            "valid_to": rule.valid_to.isoformat() if rule.valid_to else None,
            "reference": rule.reference,
            "tax_point": request.tax_point.isoformat(),
        }

    @staticmethod
    def _taxing_country(
        request: TaxRequest, seller_country: str, buyer_country: str, settings: EuVatSettings
    ) -> tuple[str, str, str]:
        if buyer_country == seller_country:
            return seller_country, f"{seller_country} seller, {buyer_country} customer", "domestic"
        if not request.electronic_service:
            return (
                seller_country,
                "EU consumer, taxed where the supplier is established (art. 45 Dir. 2006/112/EC)",
                "general_rule",
            )
        if settings.oss_registered:
            return (
                buyer_country,
                "EU consumer, e-service via OSS: taxed in the customer's country "
                "(art. 58 Dir. 2006/112/EC)",
                "oss",
            )
        return (
            seller_country,
            "EU consumer, e-service, seller not in OSS (below the EUR 10,000 "
            "threshold, art. 59c Dir. 2006/112/EC)",
            "below_threshold",
        )

    def _check_business(
        self, session: Session, request: TaxRequest, settings: EuVatSettings
    ) -> _BusinessCheck:
        vat_id = str(request.buyer.vat_id)
        try:
            split_vat_id(vat_id)
        except FieldError as error:
            return _BusinessCheck(
                False,
                f"VAT number unusable ({error.reason}): treated as a non-taxable customer",
                {"vies": {"vat_id": vat_id, "status": "unusable"}},
            )
        if not settings.vies_enabled:
            return _BusinessCheck(
                True,
                f"EU business {vat_id} (VIES checks disabled by configuration, number not "
                "verified): reverse charge, VAT due by the customer",
                {"vies": {"vat_id": vat_id, "status": "not_checked", "source": "disabled"}},
            )
        client = client_for(settings.vies_url, settings.vies_timeout_seconds)
        requester = settings.vies_requester_vat_id or request.seller.vat_id or None
        result = verify_vat_number(
            session, vat_id, client=client, settings=settings, requester_vat_id=requester
        )
        if result.status == VatNumberStatus.VALID:
            return _BusinessCheck(True, self._valid_note(result), {"vies": result.evidence()})
        if result.status == VatNumberStatus.INVALID:
            assert result.check is not None
            when = result.check.request_date or result.check.checked_at.date()
            return _BusinessCheck(
                False,
                f"VAT no. {result.vat_id} invalid in VIES on {when.isoformat()}: non-taxable "
                "customer",
                {"vies": result.evidence()},
            )
        return self._outage(session, result, settings)

    @staticmethod
    def _valid_note(result: Verification) -> str:
        check = result.check
        assert check is not None
        when = (check.request_date or check.checked_at.date()).isoformat()
        consultation = (
            f", consultation {check.request_identifier}" if check.request_identifier else ""
        )
        return (
            f"EU business {result.vat_id} valid in VIES on {when}{consultation}: reverse charge, "
            "VAT due by the customer"
        )

    def _outage(
        self, session: Session, result: Verification, settings: EuVatSettings
    ) -> _BusinessCheck:
        policy = settings.vies_outage_policy
        fault = f"{result.fault_code}: {result.fault_detail}"
        if policy == OutagePolicy.WAIT:
            raise TaxDecisionPending(
                f"VIES could not verify {result.vat_id} ({fault}); outage policy 'wait': the "
                "document waits until VIES answers, try again later"
            )
        evidence = {**result.evidence(), "policy": str(policy)}
        previous = last_answer(session, result.vat_id)
        max_age = settings.vies_fallback_max_age_days
        if previous is not None and previous.valid and previous.request_date is not None:
            age = result.checked_at - previous.checked_at
            if age.days <= max_age:
                evidence.update(
                    {
                        "fallback": "last_valid_answer",
                        "fallback_request_date": previous.request_date.isoformat(),
                        "fallback_request_identifier": previous.request_identifier,
                        "fallback_consultation_id": previous.id,
                    }
                )
                return _BusinessCheck(
                    True,
                    f"VIES unavailable ({result.fault_code}); last valid VIES answer for "
                    f"{result.vat_id} of {previous.request_date.isoformat()} used: reverse charge, "
                    "VAT due by the customer",
                    {"vies": evidence},
                )
        evidence["fallback"] = "non_taxable_customer"
        return _BusinessCheck(
            False,
            f"VIES unavailable ({result.fault_code}), no recent valid answer for {result.vat_id}: "
            "non-taxable customer until verified (art. 18 Reg. 282/2011)",
            {"vies": evidence},
        )
