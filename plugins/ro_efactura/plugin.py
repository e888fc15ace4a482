"""The e-Factura plugin's hook implementations.

plugin_manifest.toml loads it as ``praho.plugins.ro_efactura.plugin``.
"""

from __future__ import annotations

from typing import Any

from praho.core.clock import resolve_now
from praho.core.hookspecs import hookimpl
from praho.plugins.ro_efactura import tasks
from praho.plugins.ro_efactura.formats import CIUS_RO
from praho.plugins.ro_efactura.settings import current_settings, parse_settings
from praho.plugins.ro_efactura.submissions import (
    cancel_for_void,
    queue_issued_batch,
    queue_submission,
    void_vetoes,
)


@hookimpl
def plugin_configured(app: Any, name: str, settings: dict[str, Any]) -> None:
    """Refuse to start with invalid settings (an unknown environment, a bad number)."""
    parse_settings({**settings, **(app.config.get("EFACTURA") or {})})


@hookimpl
def register_einvoice_formats() -> list[Any]:
    """UBL 2.1 CIUS-RO, id ``ubl_cius_ro``."""
    return [CIUS_RO]


@hookimpl
def register_cli_commands() -> list[Any]:
    """``praho efactura ...``."""
    from praho.plugins.ro_efactura.cli import efactura_group

    return [efactura_group]


@hookimpl
def register_periodic_tasks(app: Any) -> list[Any]:
    """Submit, poll and deadline-alert beat entries."""
    return tasks.periodic_tasks()


@hookimpl
def invoice_issued(session: Any, invoice: Any) -> None:
    """Queue the document for SPV when it must be reported (see submissions module)."""
    queue_submission(
        session,
        invoice,
        settings=current_settings(),
        now=invoice.issued_at or resolve_now(None),
        just_issued=True,
    )


@hookimpl
def invoices_issued(session: Any, invoices: list[Any]) -> None:
    """Queue a billing-run chunk's documents for SPV with two bulk inserts."""
    if invoices:
        queue_issued_batch(
            session,
            invoices,
            settings=current_settings(),
            now=invoices[0].issued_at or resolve_now(None),
        )


@hookimpl
def validate_document_action(session: Any, document: Any, action: str) -> list[str]:
    """A document ANAF has (or may have) cannot be voided: credit it instead."""
    if action != "void":
        return []
    return void_vetoes(session, document)


@hookimpl
def invoice_voided(session: Any, invoice: Any) -> None:
    """Stop sending a voided document that never reached ANAF."""
    cancel_for_void(session, invoice, now=invoice.voided_at or resolve_now(None))


@hookimpl
def register_admin_views(admin: Any, session: Any) -> list[Any]:
    """The submissions list with submit, re-check, retry and downloads (back office)."""
    from praho.plugins.ro_efactura.admin_views import admin_views

    return admin_views(session)
