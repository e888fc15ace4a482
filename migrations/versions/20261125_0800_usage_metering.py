"""Usage metering: meters, charges, events (idempotent by meter and event id), ratings,
ingestion API keys and usage alerts.

Revision ID: 0800_usage_metering
Revises: 1000_virtualmin
Create Date: 2026-11-25 09:48:07.845959
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401 - autogenerate renders JSONB(astext_type=Text())

import praho.core.db
from sqlalchemy.dialects import postgresql

revision = '0800_usage_metering'
down_revision = '1000_virtualmin'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usage_events',
    sa.Column('meter_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.String(length=100).with_variant(sa.String(length=100, collation='C'), 'postgresql'), nullable=False),
    sa.Column('subscription_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('occurred_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('quantity_micro', sa.BigInteger(), nullable=False),
    sa.Column('unique_key', sa.String(length=200), nullable=True),
    sa.Column('properties', sa.JSON(), nullable=True),
    sa.Column('ingested_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('meter_id', 'event_id', name=op.f('pk_usage_events'))
    )
    with op.batch_alter_table('usage_events', schema=None) as batch_op:
        batch_op.create_index('ix_usage_events_subscription_meter_time', ['subscription_id', 'meter_id', 'occurred_at'], unique=False)

    op.create_table('usage_meters',
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=False),
    sa.Column('unit_code', sa.String(length=3), nullable=False),
    sa.Column('aggregation', sa.String(length=12), nullable=False),
    sa.Column('property', sa.String(length=60), nullable=True),
    sa.Column('rounding', sa.String(length=8), nullable=False),
    sa.Column('rounding_increment', praho.core.db.ExactDecimal(18, 6), nullable=False),
    sa.Column('category', sa.String(length=12), nullable=False),
    sa.Column('stripe_event_name', sa.String(length=100), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_meters')),
    sa.UniqueConstraint('code', name=op.f('uq_usage_meters_code'))
    )
    op.create_table('usage_stripe_cursors',
    sa.Column('meter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reported_through', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['meter_id'], ['usage_meters.id'], name=op.f('fk_usage_stripe_cursors_meter_id_usage_meters')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_stripe_cursors')),
    sa.UniqueConstraint('meter_id', name=op.f('uq_usage_stripe_cursors_meter_id'))
    )
    op.create_table('usage_api_keys',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('revoked_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_usage_api_keys_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_api_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_usage_api_keys_prefix'))
    )
    with op.batch_alter_table('usage_api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_api_keys_customer_id'), ['customer_id'], unique=False)

    op.create_table('usage_alerts',
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('meter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('threshold_quantity', praho.core.db.ExactDecimal(24, 6), nullable=True),
    sa.Column('threshold_percent', praho.core.db.ExactDecimal(9, 4), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['meter_id'], ['usage_meters.id'], name=op.f('fk_usage_alerts_meter_id_usage_meters')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_usage_alerts_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_alerts'))
    )
    with op.batch_alter_table('usage_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_alerts_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('usage_meter_charges',
    sa.Column('meter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('price_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('model', sa.String(length=10), nullable=False),
    sa.Column('unit_price', praho.core.db.ExactDecimal(20, 6), nullable=True),
    sa.Column('tiers', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('package_size', praho.core.db.ExactDecimal(18, 6), nullable=True),
    sa.Column('package_price', praho.core.db.ExactDecimal(20, 6), nullable=True),
    sa.Column('included_units', praho.core.db.ExactDecimal(18, 6), nullable=False),
    sa.Column('minimum_minor', sa.BigInteger(), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['meter_id'], ['usage_meters.id'], name=op.f('fk_usage_meter_charges_meter_id_usage_meters')),
    sa.ForeignKeyConstraint(['price_id'], ['prices.id'], name=op.f('fk_usage_meter_charges_price_id_prices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_meter_charges')),
    sa.UniqueConstraint('meter_id', 'price_id', name=op.f('uq_usage_meter_charges_meter_id_price_id'))
    )
    with op.batch_alter_table('usage_meter_charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_meter_charges_price_id'), ['price_id'], unique=False)

    op.create_table('usage_alert_firings',
    sa.Column('alert_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('threshold', praho.core.db.ExactDecimal(24, 6), nullable=False),
    sa.Column('quantity', praho.core.db.ExactDecimal(24, 6), nullable=False),
    sa.Column('fired_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['usage_alerts.id'], name=op.f('fk_usage_alert_firings_alert_id_usage_alerts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_alert_firings')),
    sa.UniqueConstraint('alert_id', 'period_start', name=op.f('uq_usage_alert_firings_alert_id_period_start'))
    )
    op.create_table('usage_ratings',
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('meter_charge_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('meter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('quantity', praho.core.db.ExactDecimal(24, 6), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('total_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('rated_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_usage_ratings_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['meter_charge_id'], ['usage_meter_charges.id'], name=op.f('fk_usage_ratings_meter_charge_id_usage_meter_charges')),
    sa.ForeignKeyConstraint(['meter_id'], ['usage_meters.id'], name=op.f('fk_usage_ratings_meter_id_usage_meters')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_usage_ratings_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usage_ratings')),
    sa.UniqueConstraint('subscription_id', 'meter_charge_id', 'period_start', 'revision', name=op.f('uq_usage_ratings_subscription_id_meter_charge_id_period_start_revision'))
    )
    with op.batch_alter_table('usage_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_ratings_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_ratings_subscription_id'), ['subscription_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('usage_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_ratings_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_usage_ratings_invoice_id'))

    op.drop_table('usage_ratings')
    op.drop_table('usage_alert_firings')
    op.drop_table('usage_stripe_cursors')
    with op.batch_alter_table('usage_meter_charges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_meter_charges_price_id'))

    op.drop_table('usage_meter_charges')
    with op.batch_alter_table('usage_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_alerts_subscription_id'))

    op.drop_table('usage_alerts')
    with op.batch_alter_table('usage_api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_api_keys_customer_id'))

    op.drop_table('usage_api_keys')
    op.drop_table('usage_meters')
    with op.batch_alter_table('usage_events', schema=None) as batch_op:
        batch_op.drop_index('ix_usage_events_subscription_meter_time')

    op.drop_table('usage_events')
