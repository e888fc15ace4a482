"""Subscriptions, their items, history, billing-period claims and billing runs.

The unique constraint on subscription_periods (subscription_id, period_start) is the
idempotency key of the billing run. invoices.subscription_id links renewal, proration
and proration-credit documents to their subscription.

Revision ID: 0500_subscriptions
Revises: 0400_efactura
Create Date: 2026-11-25 06:44:46.730361
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401 - autogenerate renders JSONB(astext_type=Text())

import praho.core.db
from sqlalchemy.dialects import postgresql

revision = '0500_subscriptions'
down_revision = '0400_efactura'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_runs',
    sa.Column('run_date', sa.Date(), nullable=False),
    sa.Column('now', praho.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', praho.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('triggered_by', sa.String(length=100), nullable=False),
    sa.Column('chunk_size', sa.Integer(), nullable=False),
    sa.Column('subscriptions_due', sa.Integer(), nullable=False),
    sa.Column('chunks_total', sa.Integer(), nullable=False),
    sa.Column('summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_runs'))
    )
    with op.batch_alter_table('billing_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_runs_run_date'), ['run_date'], unique=False)

    op.create_table('billing_run_chunks',
    sa.Column('billing_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('subscription_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('finished_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['billing_run_id'], ['billing_runs.id'], name=op.f('fk_billing_run_chunks_billing_run_id_billing_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_run_chunks')),
    sa.UniqueConstraint('billing_run_id', 'position', name=op.f('uq_billing_run_chunks_billing_run_id_position'))
    )
    with op.batch_alter_table('billing_run_chunks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_run_chunks_status'), ['status'], unique=False)

    op.create_table('subscriptions',
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seller_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('billing_cycle_months', sa.Integer(), nullable=False),
    sa.Column('anchor_day', sa.Integer(), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('current_period_start', sa.Date(), nullable=False),
    sa.Column('current_period_end', sa.Date(), nullable=False),
    sa.Column('next_billing_date', sa.Date(), nullable=True),
    sa.Column('trial_end', sa.Date(), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('cancelled_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancellation_reason', sa.String(length=300), nullable=True),
    sa.Column('paused_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('suspended_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('suspension_reason', sa.String(length=20), nullable=True),
    sa.Column('activated_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_subscriptions_customer_id_customers')),
    sa.ForeignKeyConstraint(['seller_id'], ['sellers.id'], name=op.f('fk_subscriptions_seller_id_sellers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriptions'))
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscriptions_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index('ix_subscriptions_due', ['status', 'next_billing_date'], unique=False)

    op.create_table('subscription_events',
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', praho.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event', sa.String(length=30), nullable=False),
    sa.Column('from_status', sa.String(length=12), nullable=True),
    sa.Column('to_status', sa.String(length=12), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_subscription_events_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_events'))
    )
    with op.batch_alter_table('subscription_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_events_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('billing_outcomes',
    sa.Column('billing_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('chunk_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('document_number', sa.String(length=200), nullable=True),
    sa.Column('total_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('error_code', sa.String(length=40), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['billing_run_id'], ['billing_runs.id'], name=op.f('fk_billing_outcomes_billing_run_id_billing_runs')),
    sa.ForeignKeyConstraint(['chunk_id'], ['billing_run_chunks.id'], name=op.f('fk_billing_outcomes_chunk_id_billing_run_chunks')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_billing_outcomes_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_billing_outcomes_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_outcomes'))
    )
    with op.batch_alter_table('billing_outcomes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_outcomes_billing_run_id'), ['billing_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_billing_outcomes_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('subscription_periods',
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('billing_run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('total_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('claimed_at', praho.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['billing_run_id'], ['billing_runs.id'], name=op.f('fk_subscription_periods_billing_run_id_billing_runs')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_subscription_periods_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_subscription_periods_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_periods')),
    sa.UniqueConstraint('subscription_id', 'period_start', name=op.f('uq_subscription_periods_subscription_id_period_start'))
    )
    with op.batch_alter_table('subscription_periods', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_periods_billing_run_id'), ['billing_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_subscription_periods_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('subscription_items',
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('price_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=8), nullable=False),
    sa.Column('quantity', praho.core.db.ExactDecimal(18, 6), nullable=False),
    sa.Column('billed_unit_amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('billed_quantity', praho.core.db.ExactDecimal(18, 6), nullable=True),
    sa.Column('billed_through', sa.Date(), nullable=True),
    sa.Column('billed_line_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('removed_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['billed_line_id'], ['invoice_lines.id'], name=op.f('fk_subscription_items_billed_line_id_invoice_lines')),
    sa.ForeignKeyConstraint(['price_id'], ['prices.id'], name=op.f('fk_subscription_items_price_id_prices')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_subscription_items_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_items'))
    )
    with op.batch_alter_table('subscription_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_items_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('pending_prorations',
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscription_item_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', praho.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('item_name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('product_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('price_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('quantity', praho.core.db.ExactDecimal(18, 6), nullable=False),
    sa.Column('unit_price', praho.core.db.ExactDecimal(20, 6), nullable=False),
    sa.Column('unit_code', sa.String(length=3), nullable=False),
    sa.Column('net_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_pending_prorations_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['price_id'], ['prices.id'], name=op.f('fk_pending_prorations_price_id_prices')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_pending_prorations_product_id_products')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_pending_prorations_subscription_id_subscriptions')),
    sa.ForeignKeyConstraint(['subscription_item_id'], ['subscription_items.id'], name=op.f('fk_pending_prorations_subscription_item_id_subscription_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_prorations'))
    )
    with op.batch_alter_table('pending_prorations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pending_prorations_subscription_id'), ['subscription_id'], unique=False)

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_index(batch_op.f('ix_invoices_subscription_id'), ['subscription_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_invoices_subscription_id_subscriptions'), 'subscriptions', ['subscription_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_invoices_subscription_id_subscriptions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_invoices_subscription_id'))
        batch_op.drop_column('subscription_id')

    with op.batch_alter_table('pending_prorations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_prorations_subscription_id'))

    op.drop_table('pending_prorations')
    with op.batch_alter_table('subscription_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_items_subscription_id'))

    op.drop_table('subscription_items')
    with op.batch_alter_table('subscription_periods', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_periods_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_subscription_periods_billing_run_id'))

    op.drop_table('subscription_periods')
    with op.batch_alter_table('billing_outcomes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_outcomes_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_billing_outcomes_billing_run_id'))

    op.drop_table('billing_outcomes')
    with op.batch_alter_table('subscription_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_events_subscription_id'))

    op.drop_table('subscription_events')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_due')
        batch_op.drop_index(batch_op.f('ix_subscriptions_customer_id'))

    op.drop_table('subscriptions')
    with op.batch_alter_table('billing_run_chunks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_run_chunks_status'))

    op.drop_table('billing_run_chunks')
    with op.batch_alter_table('billing_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_runs_run_date'))

    op.drop_table('billing_runs')
