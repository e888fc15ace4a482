"""EU VAT tax regime plugin (``eu_vat``).

Decides the VAT of every document line at the document's tax point: domestic rates from a
dated rates table (all 27 member states), reverse charge for EU businesses whose VAT
number VIES confirms, OSS destination rates for electronically supplied services to EU
consumers, category O outside the EU, exempt and zero-rated classes. See docs/tax.md.
"""

from __future__ import annotations

from typing import Any

from praho.core.hookspecs import hookimpl
from praho.plugins.eu_vat.regime import EuVatRegime
from praho.plugins.eu_vat.settings import EXTENSION_KEY, parse_settings


@hookimpl
def plugin_configured(app: Any, name: str, settings: dict[str, Any]) -> None:
    """Parse and keep the plugin's settings; a bad setting stops start-up with its name."""
    app.extensions[EXTENSION_KEY] = parse_settings(settings)


@hookimpl
def register_tax_regimes() -> list[Any]:
    """The ``eu_vat`` regime (sellers choose it with ``Seller.tax_regime``)."""
    return [EuVatRegime()]


@hookimpl
def register_cli_commands() -> list[Any]:
    """``praho vat check`` and ``praho vat rates show|sync|add``."""
    from praho.plugins.eu_vat.cli import vat_group

    return [vat_group]
