"""Pricing plugins: promotions (campaigns, coupons, codes, redemptions) and grandfathering
(price locks, price changes, migration plan, notices).

Revision ID: 0900_pricing
Revises: 0800_usage_metering
Create Date: 2026-11-25 10:22:48.676277
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401 - autogenerate renders JSONB(astext_type=Text())

import praho.core.db
from sqlalchemy.dialects import postgresql

revision = '0900_pricing'
down_revision = '0800_usage_metering'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('promo_campaigns',
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('budget_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('spent_minor', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_campaigns')),
    sa.UniqueConstraint('code', name=op.f('uq_promo_campaigns_code'))
    )
    op.create_table('promo_coupons',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('campaign_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('discount_type', sa.String(length=12), nullable=False),
    sa.Column('percent', praho.core.db.ExactDecimal(7, 4), nullable=True),
    sa.Column('amounts', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('free_months', sa.Integer(), nullable=True),
    sa.Column('bogo_product_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('duration', sa.String(length=10), nullable=False),
    sa.Column('duration_cycles', sa.Integer(), nullable=True),
    sa.Column('max_redemptions', sa.Integer(), nullable=True),
    sa.Column('times_redeemed', sa.Integer(), nullable=False),
    sa.Column('max_per_customer', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.Date(), nullable=True),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('min_order', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('product_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('price_ids', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('new_customers_only', sa.Boolean(), nullable=False),
    sa.Column('countries', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('customer_type', sa.String(length=3), nullable=True),
    sa.Column('customer_tag', sa.String(length=60), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['bogo_product_id'], ['products.id'], name=op.f('fk_promo_coupons_bogo_product_id_products')),
    sa.ForeignKeyConstraint(['campaign_id'], ['promo_campaigns.id'], name=op.f('fk_promo_coupons_campaign_id_promo_campaigns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_coupons')),
    sa.UniqueConstraint('code', name=op.f('uq_promo_coupons_code'))
    )
    with op.batch_alter_table('promo_coupons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promo_coupons_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('pricelock_locks',
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('price_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('unit_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('granted_by', sa.String(length=100), nullable=False),
    sa.Column('locked_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('revoked_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('revoked_by', sa.String(length=100), nullable=True),
    sa.Column('bulk_key', sa.String(length=100), nullable=True),
    sa.Column('expiry_notice_sent_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('expiry_recorded_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_pricelock_locks_customer_id_customers')),
    sa.ForeignKeyConstraint(['price_id'], ['prices.id'], name=op.f('fk_pricelock_locks_price_id_prices')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_pricelock_locks_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pricelock_locks')),
    sa.UniqueConstraint('bulk_key', 'subscription_id', name=op.f('uq_pricelock_locks_bulk_key_subscription_id'))
    )
    with op.batch_alter_table('pricelock_locks', schema=None) as batch_op:
        batch_op.create_index('ix_pricelock_locks_scope', ['customer_id', 'price_id'], unique=False)

    op.create_table('promo_coupon_codes',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('coupon_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('max_uses', sa.Integer(), nullable=True),
    sa.Column('uses', sa.Integer(), nullable=False),
    sa.Column('batch', sa.String(length=60), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['coupon_id'], ['promo_coupons.id'], name=op.f('fk_promo_coupon_codes_coupon_id_promo_coupons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_coupon_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_promo_coupon_codes_code'))
    )
    with op.batch_alter_table('promo_coupon_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promo_coupon_codes_batch'), ['batch'], unique=False)
        batch_op.create_index(batch_op.f('ix_promo_coupon_codes_coupon_id'), ['coupon_id'], unique=False)

    op.create_table('pricelock_notices',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('price_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('lock_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('old_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('new_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('sent_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('applies_from', sa.Date(), nullable=False),
    sa.Column('email_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['email_message_id'], ['email_messages.id'], name=op.f('fk_pricelock_notices_email_message_id_email_messages')),
    sa.ForeignKeyConstraint(['lock_id'], ['pricelock_locks.id'], name=op.f('fk_pricelock_notices_lock_id_pricelock_locks')),
    sa.ForeignKeyConstraint(['price_id'], ['prices.id'], name=op.f('fk_pricelock_notices_price_id_prices')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_pricelock_notices_subscription_id_subscriptions')),
    sa.ForeignKeyConstraint(['version_id'], ['price_versions.id'], name=op.f('fk_pricelock_notices_version_id_price_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pricelock_notices')),
    sa.UniqueConstraint('key', name=op.f('uq_pricelock_notices_key'))
    )
    with op.batch_alter_table('pricelock_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pricelock_notices_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('pricelock_price_changes',
    sa.Column('price_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('previous_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('old_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('new_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('notice_days', sa.Integer(), nullable=False),
    sa.Column('announced_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['previous_version_id'], ['price_versions.id'], name=op.f('fk_pricelock_price_changes_previous_version_id_price_versions')),
    sa.ForeignKeyConstraint(['price_id'], ['prices.id'], name=op.f('fk_pricelock_price_changes_price_id_prices')),
    sa.ForeignKeyConstraint(['version_id'], ['price_versions.id'], name=op.f('fk_pricelock_price_changes_version_id_price_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pricelock_price_changes')),
    sa.UniqueConstraint('version_id', name=op.f('uq_pricelock_price_changes_version_id'))
    )
    with op.batch_alter_table('pricelock_price_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pricelock_price_changes_price_id'), ['price_id'], unique=False)

    op.create_table('promo_redemptions',
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('coupon_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('redeemed_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('redeemed_by', sa.String(length=100), nullable=False),
    sa.Column('cycles_used', sa.Integer(), nullable=False),
    sa.Column('months_used', sa.Integer(), nullable=False),
    sa.Column('discount_total_minor', sa.BigInteger(), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['code_id'], ['promo_coupon_codes.id'], name=op.f('fk_promo_redemptions_code_id_promo_coupon_codes')),
    sa.ForeignKeyConstraint(['coupon_id'], ['promo_coupons.id'], name=op.f('fk_promo_redemptions_coupon_id_promo_coupons')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_promo_redemptions_customer_id_customers')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_promo_redemptions_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_promo_redemptions_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_redemptions')),
    sa.UniqueConstraint('key', name=op.f('uq_promo_redemptions_key'))
    )
    with op.batch_alter_table('promo_redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_promo_redemptions_coupon_customer', ['coupon_id', 'customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_promo_redemptions_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('pricelock_migrations',
    sa.Column('price_change_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('move_on', sa.Date(), nullable=True),
    sa.Column('notice_due_on', sa.Date(), nullable=True),
    sa.Column('lock_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('notice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('migrated_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('updated_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['lock_id'], ['pricelock_locks.id'], name=op.f('fk_pricelock_migrations_lock_id_pricelock_locks')),
    sa.ForeignKeyConstraint(['notice_id'], ['pricelock_notices.id'], name=op.f('fk_pricelock_migrations_notice_id_pricelock_notices')),
    sa.ForeignKeyConstraint(['price_change_id'], ['pricelock_price_changes.id'], name=op.f('fk_pricelock_migrations_price_change_id_pricelock_price_changes')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_pricelock_migrations_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pricelock_migrations')),
    sa.UniqueConstraint('price_change_id', 'subscription_id', name=op.f('uq_pricelock_migrations_price_change_id_subscription_id'))
    )
    with op.batch_alter_table('pricelock_migrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pricelock_migrations_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_pricelock_migrations_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('promo_redemption_uses',
    sa.Column('redemption_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('months', sa.Integer(), nullable=False),
    sa.Column('applied_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_promo_redemption_uses_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['redemption_id'], ['promo_redemptions.id'], name=op.f('fk_promo_redemption_uses_redemption_id_promo_redemptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promo_redemption_uses')),
    sa.UniqueConstraint('redemption_id', 'invoice_id', name=op.f('uq_promo_redemption_uses_redemption_id_invoice_id'))
    )
    with op.batch_alter_table('promo_redemption_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promo_redemption_uses_redemption_id'), ['redemption_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('promo_redemption_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_promo_redemption_uses_redemption_id'))

    op.drop_table('promo_redemption_uses')
    with op.batch_alter_table('pricelock_migrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pricelock_migrations_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_pricelock_migrations_status'))

    op.drop_table('pricelock_migrations')
    with op.batch_alter_table('promo_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_promo_redemptions_subscription_id'))
        batch_op.drop_index('ix_promo_redemptions_coupon_customer')

    op.drop_table('promo_redemptions')
    with op.batch_alter_table('pricelock_price_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pricelock_price_changes_price_id'))

    op.drop_table('pricelock_price_changes')
    with op.batch_alter_table('pricelock_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pricelock_notices_subscription_id'))

    op.drop_table('pricelock_notices')
    with op.batch_alter_table('promo_coupon_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_promo_coupon_codes_coupon_id'))
        batch_op.drop_index(batch_op.f('ix_promo_coupon_codes_batch'))

    op.drop_table('promo_coupon_codes')
    with op.batch_alter_table('pricelock_locks', schema=None) as batch_op:
        batch_op.drop_index('ix_pricelock_locks_scope')

    op.drop_table('pricelock_locks')
    with op.batch_alter_table('promo_coupons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_promo_coupons_campaign_id'))

    op.drop_table('promo_coupons')
    op.drop_table('promo_campaigns')
