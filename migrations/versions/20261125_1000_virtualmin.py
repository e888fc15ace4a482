"""Virtualmin provisioning: accounts, actions (idempotency key), attempts, reconciliation findings.

Revision ID: 1000_virtualmin
Revises: 0750_collections
Create Date: 2026-11-25 10:03:39.267796
"""

from __future__ import annotations

import praho.core.db
import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401 - autogenerate renders JSONB(astext_type=Text())
from sqlalchemy.dialects import postgresql

revision = '1000_virtualmin'
down_revision = '0750_collections'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('virtualmin_reconcile_runs',
    sa.Column('server', sa.String(length=60), nullable=False),
    sa.Column('started_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('domains_on_server', sa.Integer(), nullable=False),
    sa.Column('open_findings', sa.Integer(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_virtualmin_reconcile_runs'))
    )
    op.create_table('virtualmin_accounts',
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('server', sa.String(length=60), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('username', sa.String(length=60), nullable=True),
    sa.Column('plan', sa.String(length=100), nullable=True),
    sa.Column('template', sa.String(length=100), nullable=True),
    sa.Column('expected_state', sa.String(length=10), nullable=False),
    sa.Column('confirmed_state', sa.String(length=10), nullable=False),
    sa.Column('updated_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_virtualmin_accounts_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_virtualmin_accounts')),
    sa.UniqueConstraint('subscription_id', name=op.f('uq_virtualmin_accounts_subscription_id'))
    )
    with op.batch_alter_table('virtualmin_accounts', schema=None) as batch_op:
        batch_op.create_index('ix_virtualmin_accounts_server_domain', ['server', 'domain'], unique=False)

    op.create_table('virtualmin_findings',
    sa.Column('server', sa.String(length=60), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('expected', sa.String(length=20), nullable=False),
    sa.Column('actual', sa.String(length=20), nullable=False),
    sa.Column('first_seen_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_virtualmin_findings_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_virtualmin_findings')),
    sa.UniqueConstraint('server', 'domain', 'kind', name=op.f('uq_virtualmin_findings_server_domain_kind'))
    )
    with op.batch_alter_table('virtualmin_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_virtualmin_findings_resolved_at'), ['resolved_at'], unique=False)

    op.create_table('virtualmin_actions',
    sa.Column('idempotency_key', sa.String(length=120), nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('cause', sa.String(length=60), nullable=False),
    sa.Column('server', sa.String(length=60), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('started_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('completed_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('params', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['virtualmin_accounts.id'], name=op.f('fk_virtualmin_actions_account_id_virtualmin_accounts')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_virtualmin_actions_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_virtualmin_actions')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_virtualmin_actions_idempotency_key'))
    )
    with op.batch_alter_table('virtualmin_actions', schema=None) as batch_op:
        batch_op.create_index('ix_virtualmin_actions_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_virtualmin_actions_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('virtualmin_attempts',
    sa.Column('action_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('started_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('finished_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['virtualmin_actions.id'], name=op.f('fk_virtualmin_attempts_action_id_virtualmin_actions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_virtualmin_attempts'))
    )
    with op.batch_alter_table('virtualmin_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_virtualmin_attempts_action_id'), ['action_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('virtualmin_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_virtualmin_attempts_action_id'))

    op.drop_table('virtualmin_attempts')
    with op.batch_alter_table('virtualmin_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_virtualmin_actions_subscription_id'))
        batch_op.drop_index('ix_virtualmin_actions_due')

    op.drop_table('virtualmin_actions')
    with op.batch_alter_table('virtualmin_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_virtualmin_findings_resolved_at'))

    op.drop_table('virtualmin_findings')
    with op.batch_alter_table('virtualmin_accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_virtualmin_accounts_server_domain')

    op.drop_table('virtualmin_accounts')
    op.drop_table('virtualmin_reconcile_runs')
