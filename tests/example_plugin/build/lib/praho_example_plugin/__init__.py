"""An outside plugin: a flat 'example' tax regime and a note on every issued invoice."""

from decimal import Decimal

from praho.core.hookspecs import hookimpl
from praho.core.tax import TaxDecision

ISSUED: list[str] = []


class ExampleRegime:
    """Charges a flat 10% on everything; for the entry-point test only."""

    id = "example"

    def decide(self, session, request):
        return TaxDecision("S", Decimal("10"), "example plugin: flat 10%")


@hookimpl
def register_tax_regimes():
    return [ExampleRegime()]


@hookimpl
def invoice_issued(invoice):
    ISSUED.append(invoice.full_number)
