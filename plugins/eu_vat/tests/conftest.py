"""Fixtures for the eu_vat tests: an app with the real eu_vat and bnr_rates plugins (no
static test regime), a seller on the eu_vat regime, and the local VIES stand-in."""

from __future__ import annotations

from typing import Any

import pytest
from praho.plugins.eu_vat.settings import EXTENSION_KEY, parse_settings
from praho.plugins.eu_vat.testing import ViesStandIn, write_manifest


@pytest.fixture(scope="session")
def vies_server():
    server = ViesStandIn().start()
    yield server
    server.stop()


@pytest.fixture
def vies(vies_server):
    """The stand-in, reset: official test-number map only, no delay, no error page."""
    vies_server.outcomes.clear()
    vies_server.traders.clear()
    vies_server.requests.clear()
    vies_server.delay = 0.0
    vies_server.http_error = None
    return vies_server


@pytest.fixture
def eu_vat_settings(vies) -> dict[str, Any]:
    """The eu_vat settings written to the test manifest; override to change them."""
    return {"vies_url": vies.url, "vies_timeout_seconds": 2, "vies_outage_policy": "fallback"}


@pytest.fixture
def praho_plugins():
    """Only the manifest's real plugins: no StaticTaxRegime, no fixed exchange rates."""
    return []


@pytest.fixture
def praho_config(tmp_path, eu_vat_settings):
    manifest = write_manifest(tmp_path, {"eu_vat": eu_vat_settings, "bnr_rates": {}})
    return {"PLUGIN_MANIFEST": str(manifest), "LOAD_ENTRY_POINTS": False}


@pytest.fixture
def configure(praho_app, eu_vat_settings):
    """Change eu_vat settings for the rest of one test: ``configure(oss_registered=True)``."""

    def apply(**changes: Any) -> None:
        praho_app.extensions[EXTENSION_KEY] = parse_settings({**eu_vat_settings, **changes})

    return apply


@pytest.fixture
def eu_seller(praho_factory):
    """The default seller, a Romanian VAT payer on the eu_vat regime."""
    return praho_factory.seller(tax_regime="eu_vat", code="EU-SELLER")


@pytest.fixture
def make_customer(praho_factory, eu_seller):
    """A customer in ``country``: a company with ``vat_id``, or an individual."""

    def build(
        country: str = "RO", *, vat_id: str | None = None, business: bool = True, **extra: Any
    ) -> Any:
        values: dict[str, Any] = {"country": country, "vat_id": vat_id}
        if country == "RO":
            values.update(
                county="RO-CJ",
                city="Cluj-Napoca",
                cui=(vat_id[2:] if vat_id else "14399840") if business else None,
            )
        else:
            values.update(county=None, city="Berlin" if country == "DE" else "City", cui=None)
        if not business:
            values.update(kind="individual", cui=None, vat_id=None)
        values.update(extra)
        return praho_factory.customer(**values)

    return build


@pytest.fixture
def eu_seller_committed(praho_committing):
    """A committed default seller on eu_vat (for CLI tests that open their own transactions)."""
    from praho.core.testing import PrahoFactory

    with praho_committing.transaction() as session:
        PrahoFactory(session).seller(tax_regime="eu_vat", code="EU-SELLER")
