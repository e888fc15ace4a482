"""The real chain: eu_vat decides (VIES stand-in, BNR rates), ro_efactura renders and the
official validators (XSD, CEN EN 16931, ANAF CIUS-RO) accept every document."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from praho.core.plugins import get_registry
from praho.core.services.credit_notes import issue_credit_note
from praho.plugins.bnr_rates.service import import_feed_body
from praho.plugins.bnr_rates.settings import current_settings as bnr_settings
from praho.plugins.eu_vat.testing import VALID, ViesStandIn
from praho.plugins.ro_efactura.validation import errors_only

ROOT = Path(__file__).resolve().parents[2]
BNR_FIXTURES = ROOT / "plugins" / "bnr_rates" / "tests" / "fixtures"
AUGUST = datetime(2026, 8, 6, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def vies():
    server = ViesStandIn().start()
    server.set_outcome("DE136695976", VALID)
    yield server
    server.stop()


@pytest.fixture
def praho_plugins():
    return []  # only the real plugins of the manifest below


@pytest.fixture
def praho_config(tmp_path, vies):
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(f"""
[[plugin]]
name = "eu_vat"
module = "praho.plugins.eu_vat"
[plugin.settings]
vies_url = "{vies.url}"
oss_registered = true

[[plugin]]
name = "bnr_rates"
module = "praho.plugins.bnr_rates"

[[plugin]]
name = "ro_efactura"
module = "praho.plugins.ro_efactura.plugin"
""")
    return {"PLUGIN_MANIFEST": str(manifest), "LOAD_ENTRY_POINTS": False}


@pytest.fixture
def seller(praho_factory):
    return praho_factory.seller(tax_regime="eu_vat", code="EU-SELLER")


CUSTOMERS = {
    "domestic": {"country": "RO", "county": "RO-CJ", "city": "Cluj-Napoca", "cui": "14399840",
                 "vat_id": "RO14399840"},
    "reverse_charge": {"country": "DE", "city": "Berlin", "vat_id": "DE136695976", "cui": None,
                       "currency": "EUR"},
    "oss_consumer": {"country": "FR", "city": "Lyon", "kind": "individual", "cui": None,
                     "vat_id": None, "legal_name": "Marie Dupont"},
    "outside_eu": {"country": "US", "city": "Austin", "cui": None, "vat_id": None,
                   "legal_name": "Example Inc."},
}
EXPECTED = {"domestic": ("S", "21"), "reverse_charge": ("AE", "0"), "oss_consumer": ("S", "20"),
            "outside_eu": ("O", "0")}


@pytest.mark.parametrize("scenario", sorted(CUSTOMERS))
def test_real_decisions_render_valid_cius_ro(scenario, praho_factory, praho_session, seller):
    import_feed_body(praho_session, (BNR_FIXTURES / "bnr_sample.xml").read_bytes(),
                     source="bnr_sample.xml", settings=bnr_settings())
    values = {"county": None, **CUSTOMERS[scenario]}
    currency = values.pop("currency", "RON")
    customer = praho_factory.customer(**values)
    invoice = praho_factory.invoice(customer, lines=[("Găzduire web Pro", "1", "100.00")],
                                    currency=currency, now=AUGUST)
    category, rate = EXPECTED[scenario]
    assert (invoice.lines[0].tax_category, invoice.lines[0].tax_rate.normalize()) == (
        category, type(invoice.lines[0].tax_rate)(rate))
    ubl = get_registry().objects("register_einvoice_formats")["ubl_cius_ro"]
    problems = errors_only(ubl.validate(ubl.render(invoice)))
    assert problems == [], "\n".join(map(str, problems))
    credit = issue_credit_note(praho_session, invoice, reason="cancelled", now=AUGUST)
    assert errors_only(ubl.validate(ubl.render(credit))) == []
