"""A partial index on the webhook events waiting to be applied, in arrival order.

The applier takes the oldest waiting events (``status = 'received' ORDER BY id LIMIT n``).
With only the index on ``status``, PostgreSQL either sorted every waiting event to take
the first few (a backlog was read whole for each batch) or, when the statistics showed
many waiting, scanned the primary key and filtered out every event applied before them.
``ix_webhook_events_received`` holds only the waiting events, by id: a batch reads what it
takes.

Revision ID: 1410_webhook_received_index
Revises: 1400_webhook_payload_lz4
Create Date: 2026-12-06 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '1410_webhook_received_index'
down_revision = '1400_webhook_payload_lz4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index(
            'ix_webhook_events_received',
            ['id'],
            unique=False,
            postgresql_where=sa.text("status = 'received'"),
            sqlite_where=sa.text("status = 'received'"),
        )


def downgrade() -> None:
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_events_received')
