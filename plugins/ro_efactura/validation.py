"""Validating e-Factura XML inside the project: UBL 2.1 XSD, CEN EN 16931 1.3.16, ANAF CIUS-RO.

Three layers, all of which must pass before a document may be uploaded:

1. ``xsd``: the OASIS UBL 2.1 schema. lxml's XMLSchema decides (about 0.1 ms per
   document); when it says no, xmlschema explains every error with its path, which is
   what people read.
2. ``cen``: the CEN EN 16931 UBL schematron 1.3.16, compiled to XSLT 2.0.
3. ``anaf``: ANAF's full CIUS-RO bundle 1.0.9 (its own EN 16931 copy plus BR-RO rules).

The XSLTs are XSLT 2.0, which only Saxon runs (saxonche). Compiling one takes seconds,
so each is compiled once per process and reused under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree
from praho.core.xmlinput import UntrustedXMLError, parse_untrusted_xml

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
XSD_FILES = {
    "Invoice": SCHEMA_DIR / "ubl21" / "maindoc" / "UBL-Invoice-2.1.xsd",
    "CreditNote": SCHEMA_DIR / "ubl21" / "maindoc" / "UBL-CreditNote-2.1.xsd",
}
SCHEMATRON_FILES = {
    "cen": SCHEMA_DIR / "schematron" / "EN16931-UBL-validation.xslt",
    "anaf": SCHEMA_DIR / "schematron" / "ANAF-1.0.9-EN16931-CIUS_RO-full.xslt",
}
LAYERS = ("xsd", "cen", "anaf")
SVRL = "http://purl.oclc.org/dsdl/svrl"
UBL_ROOTS = {
    "{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice": "Invoice",
    "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote": "CreditNote",
}
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
MAX_XML_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Problem:
    """One failed rule: the layer, the rule id (``BR-RO-110``), its message and severity."""

    layer: str
    rule_id: str
    message: str
    flag: str = "fatal"
    location: str | None = None

    @property
    def is_error(self) -> bool:
        """Fatal problems make a document invalid; warnings do not."""
        return self.flag != "warning"

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location else ""
        return f"[{self.layer}] {self.rule_id}: {self.message}{where}"


def parse_xml(xml: bytes | str) -> etree._Element:
    """Parse untrusted XML: no entities, DTD or network access, at most ANAF's 10 MB limit.

    Raises :class:`praho.core.xmlinput.UntrustedXMLError` (a DOCTYPE is refused, so the
    schematron engine never sees one either).
    """
    return parse_untrusted_xml(xml, max_bytes=MAX_XML_BYTES, what="e-Factura XML")


# --- XSD --------------------------------------------------------------------


@cache
def _lxml_schema(kind: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_FILES[kind])))


@cache
def _xmlschema_schema(kind: str) -> Any:
    import xmlschema

    return xmlschema.XMLSchema(str(XSD_FILES[kind]))


def validate_xsd(tree: etree._Element) -> list[Problem]:
    """Check the UBL 2.1 schema; explain failures with xmlschema's messages and paths."""
    kind = UBL_ROOTS.get(tree.tag)
    if kind is None:
        return [
            Problem(
                "xsd",
                "UBL-ROOT",
                f"root element {tree.tag} is neither a UBL Invoice nor a UBL CreditNote",
            )
        ]
    schema = _lxml_schema(kind)
    if schema.validate(tree):
        return []
    problems = [
        Problem("xsd", "XSD", error.reason or str(error), location=error.path)
        for error in _xmlschema_schema(kind).iter_errors(tree)
    ]
    if not problems:  # the two engines disagree: report what lxml saw
        problems = [
            Problem("xsd", "XSD", e.message, location=f"line {e.line}") for e in schema.error_log
        ]
    return problems


def xmlschema_problems(tree: etree._Element) -> list[Problem]:
    """Validate with xmlschema only (used to cross-check the fast path in tests)."""
    kind = UBL_ROOTS.get(tree.tag)
    if kind is None:
        return [Problem("xsd", "UBL-ROOT", f"unexpected root {tree.tag}")]
    return [
        Problem("xsd", "XSD", e.reason or str(e), location=e.path)
        for e in _xmlschema_schema(kind).iter_errors(tree)
    ]


# --- schematron -------------------------------------------------------------


class _Schematron:
    """The Saxon processor and the compiled stylesheets of this process."""

    def __init__(self) -> None:
        from saxonche import PySaxonProcessor

        self.lock = threading.Lock()
        self.processor = PySaxonProcessor(license=False)
        compiler = self.processor.new_xslt30_processor()
        self.executables = {
            layer: compiler.compile_stylesheet(stylesheet_file=str(path))
            for layer, path in SCHEMATRON_FILES.items()
        }

    def run(self, layer: str, xml_text: str) -> str:
        with self.lock:
            node = self.processor.parse_xml(xml_text=xml_text)
            result: str = self.executables[layer].transform_to_string(xdm_node=node)
        return result


_schematron: _Schematron | None = None
_schematron_lock = threading.Lock()


def schematron() -> _Schematron:
    """The process-wide compiled schematron (compiled on first use, about 2.5 s)."""
    global _schematron
    if _schematron is None:
        with _schematron_lock:
            if _schematron is None:
                _schematron = _Schematron()
    return _schematron


def parse_svrl(layer: str, svrl: str) -> list[Problem]:
    """Every failed assert and successful report of an SVRL result, with its flag."""
    root = etree.fromstring(svrl.encode("utf-8"), parser=_SAFE_PARSER)
    problems = []
    for node in root.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        text = node.findtext(f"{{{SVRL}}}text") or ""
        problems.append(
            Problem(
                layer=layer,
                rule_id=node.get("id") or "?",
                message=" ".join(text.split()),
                flag=node.get("flag") or "fatal",
                location=node.get("location"),
            )
        )
    return problems


def validate_schematron(xml_text: str, layers: Iterable[str] = ("cen", "anaf")) -> list[Problem]:
    """Run the named schematron layers over a document."""
    engine = schematron()
    problems: list[Problem] = []
    for layer in layers:
        problems += parse_svrl(layer, engine.run(layer, xml_text))
    return problems


# --- all layers -------------------------------------------------------------


def validate_all(xml: bytes | str, layers: Iterable[str] = LAYERS) -> list[Problem]:
    """Every problem (errors and warnings) of every requested layer.

    Unparsable XML is one ``XML`` problem. When the schema fails, the schematron still
    runs: its messages usually say more about the business mistake.
    """
    wanted = tuple(layers)
    try:
        tree = parse_xml(xml)
    except UntrustedXMLError as exc:
        return [Problem("xsd", "XML", f"not usable XML: {exc.message}")]
    problems: list[Problem] = []
    if "xsd" in wanted:
        problems += validate_xsd(tree)
    schematron_layers = [layer for layer in wanted if layer in SCHEMATRON_FILES]
    if schematron_layers:
        text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
        problems += validate_schematron(text, schematron_layers)
    return problems


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    """The fatal problems: any one makes the document invalid."""
    return [p for p in problems if p.is_error]
