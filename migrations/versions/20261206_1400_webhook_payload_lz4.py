"""Webhook payloads are compressed with LZ4 on PostgreSQL.

A stored Stripe event is 2-3 KB of JSON, past the size at which PostgreSQL compresses a
row. Its default method, pglz, was the largest single cost PostgreSQL paid for each
recorded delivery; LZ4 compresses about as well at a fraction of the CPU, and reads back
faster for the workers that apply the events. Rows already stored keep their pglz
compression (both read the same); only new rows use LZ4.

A server built without LZ4 support (every common package and image has it) keeps pglz and
says so in a notice. SQLite has no such setting: nothing changes there.

Revision ID: 1400_webhook_payload_lz4
Revises: 1300_usage_event_keys
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from alembic import op

revision = '1400_webhook_payload_lz4'
down_revision = '1300_usage_event_keys'
branch_labels = None
depends_on = None


def _set_compression(method: str) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(
        "DO $$ BEGIN "
        f"ALTER TABLE webhook_events ALTER COLUMN payload SET COMPRESSION {method}; "
        "EXCEPTION WHEN feature_not_supported THEN "
        f"RAISE NOTICE 'this server cannot compress with {method}: webhook payloads keep "
        "the default method'; "
        "END $$"
    )


def upgrade() -> None:
    _set_compression('lz4')


def downgrade() -> None:
    _set_compression('default')
