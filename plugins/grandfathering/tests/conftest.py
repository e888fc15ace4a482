"""Fixtures for the grandfathering tests."""

from __future__ import annotations

import pytest
from praho.plugins.grandfathering.testing import Clock


@pytest.fixture
def clock(praho_session):
    return Clock(praho_session)
