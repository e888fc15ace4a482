"""PDF invoices, proformas and credit notes (WeasyPrint), in Romanian and English.

:func:`render_document_pdf` turns a document into PDF bytes: the figures and legal
mentions come from :mod:`praho.core.services.pdf_view`, the layout from the Jinja
templates ``documents/<kind>.html`` and the stylesheet ``documents/document.css``.
The font (DejaVu Sans, shipped in ``templates/fonts``) is embedded, so the Romanian
letters ă â î ș ț print the same on any machine.

Inside a Flask app the templates are loaded through the app's Jinja environment (the
core's templates, then those of ``register_templates`` plugins). The parsed stylesheet and
the font configuration are built once per thread and reused: parsing the CSS and
registering the fonts is a large share of the cost of a one-page document.
"""

from __future__ import annotations

import atexit
import re
import threading
import weakref
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context
from jinja2 import Environment, FileSystemLoader, select_autoescape
from praho.core.models.invoices import Invoice
from praho.core.services.pdf_view import DocumentView, build_document_view, resolve_language
from sqlalchemy.orm import Session

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
DOCUMENTS_DIR = TEMPLATE_DIR / "documents"
STYLESHEET = DOCUMENTS_DIR / "document.css"
FONTS_DIR = TEMPLATE_DIR / "fonts"
# The @font-face family of the shipped font. pdffonts shows it, so a test can tell the
# shipped file from a system copy of DejaVu.
FONT_FAMILY = "PRAHO Sans"

_local = threading.local()
_fallback_environment: Environment | None = None
# The live threads' engines, closed at exit while the modules that delete their font
# folders still exist (FontConfiguration.__del__ fails during interpreter shutdown).
_engines: weakref.WeakSet[_Engine] = weakref.WeakSet()
_engines_lock = threading.Lock()


class _Engine:
    """WeasyPrint's font configuration and the parsed stylesheet, for one thread."""

    def __init__(self) -> None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration
        from weasyprint.urls import URLFetcher

        # Documents only ever load the packaged stylesheet and fonts: no network.
        self.url_fetcher = URLFetcher(allowed_protocols={"file", "data"})
        self.font_config = FontConfiguration()
        self.stylesheet = CSS(filename=str(STYLESHEET), font_config=self.font_config,
                              url_fetcher=self.url_fetcher)
        self.html_class = _lean_html_class()

    def close(self) -> None:
        """Drop the font configuration now (it deletes its temporary font folder)."""
        self.__dict__.pop("font_config", None)
        self.__dict__.pop("stylesheet", None)

    def write_pdf(self, html: str) -> bytes:
        document = self.html_class(string=html, base_url=DOCUMENTS_DIR.as_uri() + "/",
                                   url_fetcher=self.url_fetcher)
        pdf: bytes = document.write_pdf(stylesheets=[self.stylesheet], font_config=self.font_config)
        return pdf


def _lean_html_class() -> Any:
    """WeasyPrint's ``HTML`` with a user-agent stylesheet that skips unused pseudo-elements.

    The stock HTML5 stylesheet gives every element ``::marker``, ``::footnote-*`` and
    ``::note-*`` styles, so each element's style is computed seven times. Documents use
    no footnotes and only list items have markers; dropping those rules renders the same
    pages about 10% faster. Should a WeasyPrint release change these internals, the stock
    class is used unchanged (slower, identical output).
    """
    from weasyprint import CSS, HTML

    try:
        from weasyprint.html import UA, UA_COUNTER_STYLE
    except ImportError:
        return HTML
    lean = re.sub(r"^::(?:footnote|note)-[a-z]+ \{[^}]*\}\n", "", UA, flags=re.M)
    lean = re.sub(r"^::marker \{", "li::marker {", lean, flags=re.M)
    if lean == UA or not hasattr(HTML, "_ua_stylesheets"):
        return HTML
    sheet = CSS(string=lean, counter_style=UA_COUNTER_STYLE)

    class LeanHTML(HTML):  # type: ignore[misc]
        def _ua_stylesheets(self, forms: bool = False) -> list[Any]:
            return [sheet]

    return LeanHTML


def _engine() -> _Engine:
    engine: _Engine | None = getattr(_local, "engine", None)
    if engine is None:
        engine = _local.engine = _Engine()
        with _engines_lock:
            _engines.add(engine)
    return engine


@atexit.register
def _close_engines() -> None:
    with _engines_lock:
        for engine in list(_engines):
            engine.close()


def _environment() -> Environment:
    """The app's Jinja environment inside an app context, else a standalone one."""
    global _fallback_environment
    if has_app_context():
        return current_app.jinja_env
    if _fallback_environment is None:
        _fallback_environment = Environment(
            loader=FileSystemLoader(str(TEMPLATE_DIR)),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
    return _fallback_environment


def render_view_html(view: DocumentView) -> str:
    """The HTML of a computed document view (``documents/<kind>.html``)."""
    template = _environment().get_template(f"documents/{view.kind}.html")
    return template.render(v=view, L=view.labels, font_family=FONT_FAMILY)


def render_document_html(session: Session, invoice: Invoice, *, language: str | None = None) -> str:
    """The HTML that :func:`render_document_pdf` prints (for previews and e-mail bodies)."""
    view = build_document_view(session, invoice, resolve_language(invoice, language))
    return render_view_html(view)


def render_document_pdf(session: Session, invoice: Invoice, *,
                        language: str | None = None) -> bytes:
    """Render an invoice, proforma or credit note as a PDF, in its own language by default.

    :param language: ``ro`` or ``en``; defaults to the document's language.
    :raises ValidationFailed: for a language without translations.
    :raises DocumentNotPrintable: for an issued document without frozen party snapshots.
    Drafts render with a DRAFT/CIORNĂ watermark and no number; void documents with VOID.
    Reads only; changes nothing.
    """
    html = render_document_html(session, invoice, language=language)
    return _engine().write_pdf(html)


def warm_up() -> None:
    """Build this thread's renderer now (fonts, stylesheet), e.g. in a worker at start-up."""
    _engine()
