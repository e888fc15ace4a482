"""Fixtures of the e-Factura tests: a tax regime double with reverse charge, documents.

``praho_plugins`` registers :class:`ReverseChargeTestRegime` under the id the test
seller uses ("static"). It is the one place to swap in the real ``eu_vat`` regime.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from praho.core.tax import TaxDecision, TaxRequest
from praho.core.testing import StaticTaxRegime, StaticTestPlugin

EU = {"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE",
      "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "SE", "SI", "SK"}


@dataclass
class ReverseChargeTestRegime(StaticTaxRegime):
    """StaticTaxRegime plus the two cross-border outcomes the e-Factura scenarios need.

    EU business buyer with a VAT id: reverse charge (AE, VATEX-EU-AE). Buyer outside the
    EU: not subject to Romanian VAT (O). Everything else: the static S/E/Z rules.
    """

    def decide(self, session: Session, request: TaxRequest) -> TaxDecision:
        """Decide by buyer country, business status and tax class."""
        buyer = request.buyer
        if buyer.country != request.seller.country:
            if buyer.country in EU and buyer.is_business and buyer.vat_id:
                return TaxDecision("AE", Decimal(0), "test regime: EU B2B reverse charge",
                                   exemption_code="VATEX-EU-AE",
                                   exemption_reason="Taxare inversa (art. 196 Directiva 2006/112/CE)")
            return TaxDecision("O", Decimal(0), "test regime: outside the scope of RO VAT",
                               exemption_code="VATEX-EU-O",
                               exemption_reason="Neimpozabil in Romania (art. 278 Cod fiscal)")
        return super().decide(session, request)


@pytest.fixture
def praho_plugins() -> list[tuple[str, Any]]:
    """The test regime (and fixed EUR/USD rates) registered on the test app."""
    return [("static_test", StaticTestPlugin(regime=ReverseChargeTestRegime()))]
