"""Reference data every database needs: chart of accounts, numbering series, audit head."""

from __future__ import annotations

from praho.core.services.audit import ensure_chain_head
from praho.core.services.ledger import ensure_chart_of_accounts
from praho.core.services.numbering import ensure_default_series
from sqlalchemy.orm import Session


def ensure_reference_data(session: Session) -> None:
    """Create whatever reference rows are missing; safe to run on every upgrade."""
    ensure_chart_of_accounts(session)
    ensure_default_series(session)
    ensure_chain_head(session)
