"""Fixtures of the security suite.

The fuzz settings and the count of inputs tried come from ``praho.core.testing``
(``fuzz_settings``, ``fuzz_tried``): ``PRAHO_FUZZ_EXAMPLES`` sets how many inputs each
target tries (default 40, so the suite stays fast); a long run is
``PRAHO_FUZZ_EXAMPLES=20000 PRAHO_FUZZ_REPORT=fuzz.json pytest tests/security -m ''``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def row_counts(praho_session: Any) -> Callable[[], dict[str, int]]:
    """A function returning the row count of every table (to prove nothing changed)."""
    from praho.core.db import Base
    from praho.core.migrations import import_all_models
    from sqlalchemy import func, select

    import_all_models()
    tables = list(Base.metadata.sorted_tables)

    def counts() -> dict[str, int]:
        praho_session.flush()
        return {t.name: praho_session.execute(select(func.count()).select_from(t)).scalar_one()
                for t in tables}

    return counts
