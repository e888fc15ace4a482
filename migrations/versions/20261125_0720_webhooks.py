"""Disputes and refunds as the payment gateways report them (once per gateway reference).

Revision ID: 0720_webhooks
Revises: 0700_payments
Create Date: 2026-11-25 09:55:28.417916
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401 - autogenerate renders JSONB(astext_type=Text())

import praho.core.db


revision = '0720_webhooks'
down_revision = '0700_payments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('disputes',
    sa.Column('gateway_id', sa.String(length=30), nullable=False),
    sa.Column('gateway_reference', sa.String(length=255), nullable=False),
    sa.Column('payment_reference', sa.String(length=255), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('gateway_status', sa.String(length=50), nullable=False),
    sa.Column('opened_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('closed_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('updated_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disputes')),
    sa.UniqueConstraint('gateway_id', 'gateway_reference', name=op.f('uq_disputes_gateway_id_gateway_reference'))
    )
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disputes_payment_reference'), ['payment_reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_disputes_status'), ['status'], unique=False)

    op.create_table('gateway_refunds',
    sa.Column('gateway_id', sa.String(length=30), nullable=False),
    sa.Column('gateway_reference', sa.String(length=255), nullable=False),
    sa.Column('payment_reference', sa.String(length=255), nullable=True),
    sa.Column('refund_key', sa.String(length=255), nullable=True),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('failure_reason', sa.String(length=100), nullable=True),
    sa.Column('updated_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_gateway_refunds')),
    sa.UniqueConstraint('gateway_id', 'gateway_reference', name=op.f('uq_gateway_refunds_gateway_id_gateway_reference'))
    )
    with op.batch_alter_table('gateway_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_refunds_payment_reference'), ['payment_reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_gateway_refunds_refund_key'), ['refund_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_gateway_refunds_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('gateway_refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_refunds_status'))
        batch_op.drop_index(batch_op.f('ix_gateway_refunds_refund_key'))
        batch_op.drop_index(batch_op.f('ix_gateway_refunds_payment_reference'))

    op.drop_table('gateway_refunds')
    with op.batch_alter_table('disputes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disputes_status'))
        batch_op.drop_index(batch_op.f('ix_disputes_payment_reference'))

    op.drop_table('disputes')
