"""Fixtures of the e-Factura tests: a tax regime double with reverse charge, documents.

``praho_plugins`` registers :class:`ReverseChargeTestRegime` under the id the test
seller uses ("static"). It is the one place to swap in the real ``eu_vat`` regime.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from praho.core.tax import TaxDecision, TaxRequest
from praho.core.testing import StaticTaxRegime, StaticTestPlugin
from sqlalchemy.orm import Session

EU = {
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "EL",
    "ES",
    "FI",
    "FR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "SE",
    "SI",
    "SK",
}


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
                return TaxDecision(
                    "AE",
                    Decimal(0),
                    "test regime: EU B2B reverse charge",
                    exemption_code="VATEX-EU-AE",
                    exemption_reason="Taxare inversa (art. 196 Directiva 2006/112/CE)",
                )
            return TaxDecision(
                "O",
                Decimal(0),
                "test regime: outside the scope of RO VAT",
                exemption_code="VATEX-EU-O",
                exemption_reason="Neimpozabil in Romania (art. 278 Cod fiscal)",
            )
        return super().decide(session, request)


@pytest.fixture
def praho_plugins() -> list[tuple[str, Any]]:
    """The test regime (and fixed EUR/USD rates) registered on the test app."""
    return [("static_test", StaticTestPlugin(regime=ReverseChargeTestRegime()))]


TOKEN_KEY = "S2V5LWZvci10ZXN0cy1vbmx5LW5ldmVyLWluLXByb2R1Y3Rpb24hIQ"


@pytest.fixture
def anaf():
    """A local ANAF stand-in on a free port (see anaf_standin.py)."""
    from praho.plugins.ro_efactura.tests.anaf_standin import AnafStandIn

    with AnafStandIn() as standin:
        yield standin


@pytest.fixture
def praho_config(anaf) -> dict[str, Any]:
    """Point the plugin at the stand-in, with a test token key."""
    return {"EFACTURA": anaf.settings(TOKEN_KEY)}


@pytest.fixture
def efactura_settings(praho_app):
    """The resolved plugin settings of the test app."""
    from praho.plugins.ro_efactura.settings import current_settings

    return current_settings()


@pytest.fixture
def anaf_client(efactura_settings):
    """The real client, talking to the stand-in."""
    from praho.plugins.ro_efactura.anaf_client import AnafClient

    return AnafClient(efactura_settings)


@pytest.fixture
def committed(praho_committing):
    """Run a scenario in a committed transaction; returns the document's id."""
    from praho.core.testing import PrahoFactory

    def build(scenario) -> int:
        with praho_committing.transaction() as session:
            document = scenario(PrahoFactory(session))
            return int(document.id)

    return build


@pytest.fixture
def authorized(praho_committing, anaf_client, efactura_settings):
    """Tokens for the test seller's CUI obtained through the real authorization-code grant."""
    from praho.core.clock import utcnow
    from praho.plugins.ro_efactura.tests.anaf_standin import GOOD_CODE
    from praho.plugins.ro_efactura.tokens import store_tokens

    tokens = anaf_client.exchange_code(GOOD_CODE, now=utcnow())
    with praho_committing.transaction() as session:
        store_tokens(session, "14399840", tokens, settings=efactura_settings, now=utcnow())
    return tokens
