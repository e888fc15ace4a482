"""Alembic migration history (one history for the core and the built-in plugins)."""
