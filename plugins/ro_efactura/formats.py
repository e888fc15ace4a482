"""The ``ubl_cius_ro`` e-invoice format object the core dispatches to by id."""

from __future__ import annotations

from typing import Any

from praho.plugins.ro_efactura.rendering import render_document
from praho.plugins.ro_efactura.validation import Problem, errors_only, validate_all

FORMAT_ID = "ubl_cius_ro"


class CiusRoFormat:
    """UBL 2.1 CIUS-RO (Romanian e-Factura): render an issued document, validate XML."""

    id = FORMAT_ID
    media_type = "application/xml"
    file_extension = "xml"
    label = "e-Factura UBL 2.1 CIUS-RO 1.0.1"

    def render(self, document: Any) -> bytes:
        """The document as CIUS-RO XML (invoices as Invoice, credit notes as CreditNote)."""
        return render_document(document)

    def validate(self, xml: bytes | str) -> list[Problem]:
        """The fatal problems of XSD + CEN EN 16931 1.3.16 + ANAF CIUS-RO 1.0.9; [] if valid."""
        return errors_only(validate_all(xml))

    def report(self, xml: bytes | str) -> list[Problem]:
        """Errors and warnings of every layer, for people to read."""
        return validate_all(xml)


CIUS_RO = CiusRoFormat()
