"""The core hooks this plugin implements, seen from the core's side."""

from __future__ import annotations

from praho.core.plugins import get_registry
from praho.plugins.ro_efactura.validation import errors_only


def test_hook_register_einvoice_formats(praho_factory):
    formats = get_registry().objects("register_einvoice_formats")
    assert "ubl_cius_ro" in formats
    invoice = praho_factory.invoice(lines=[("Găzduire web", "1", "100.00")])
    xml = formats["ubl_cius_ro"].render(invoice)
    assert xml.startswith(b"<?xml")
    assert errors_only(formats["ubl_cius_ro"].validate(xml)) == []
