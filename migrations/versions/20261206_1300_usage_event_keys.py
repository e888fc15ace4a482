"""Usage events are unique per (meter, customer, event id); Stripe refusals are kept.

An event id is the sender's own: with the old key (meter, event id) one customer's
"usage-1" was acknowledged as a duplicate of another customer's and never billed. The
primary key now includes the customer. ``usage_stripe_refusals`` records the events
Stripe refused for good, so the report cursor can move past them.

Downgrading restores the old key only when no two customers share an event id on a
meter; otherwise it stops with a message and changes nothing (dropping either event
would lose billed usage).

Revision ID: 1300_usage_event_keys
Revises: 1200_collection_chunks
Create Date: 2026-12-06 10:12:41.518307
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import praho.core.db

revision = '1300_usage_event_keys'
down_revision = '1200_collection_chunks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On SQLite batch mode rebuilds the table (and its index); on PostgreSQL these are
    # two ALTERs in the migration's transaction.
    with op.batch_alter_table('usage_events', schema=None) as batch_op:
        batch_op.drop_constraint('pk_usage_events', type_='primary')
        batch_op.create_primary_key('pk_usage_events', ['meter_id', 'customer_id', 'event_id'])

    op.create_table('usage_stripe_refusals',
    sa.Column('meter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('identifier', sa.String(length=100), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=False),
    sa.Column('error_code', sa.String(length=100), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('refused_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_usage_stripe_refusals_customer_id_customers')),
    sa.ForeignKeyConstraint(['meter_id'], ['usage_meters.id'], name=op.f('fk_usage_stripe_refusals_meter_id_usage_meters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_stripe_refusals')),
    sa.UniqueConstraint('meter_id', 'customer_id', 'event_id', name=op.f('uq_usage_stripe_refusals_meter_id_customer_id_event_id'))
    )
    with op.batch_alter_table('usage_stripe_refusals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_stripe_refusals_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_stripe_refusals_refused_at'), ['refused_at'], unique=False)


def downgrade() -> None:
    shared = op.get_bind().execute(sa.text(
        'SELECT meter_id, event_id FROM usage_events '
        'GROUP BY meter_id, event_id HAVING COUNT(*) > 1 LIMIT 5'
    )).all()
    if shared:
        raise RuntimeError(
            'cannot restore the (meter, event id) key: customers share event ids '
            f'(meter id, event id: {[tuple(row) for row in shared]}); '
            'keep this revision or rename those events first'
        )
    with op.batch_alter_table('usage_stripe_refusals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_stripe_refusals_refused_at'))
        batch_op.drop_index(batch_op.f('ix_usage_stripe_refusals_customer_id'))

    op.drop_table('usage_stripe_refusals')
    with op.batch_alter_table('usage_events', schema=None) as batch_op:
        batch_op.drop_constraint('pk_usage_events', type_='primary')
        batch_op.create_primary_key('pk_usage_events', ['meter_id', 'event_id'])
