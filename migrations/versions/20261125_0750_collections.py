"""Collections: dunning policies, cases, runs and actions; refunds and their history.

Revision ID: 0750_collections
Revises: 0720_webhooks
Create Date: 2026-11-25 09:55:41.428841
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text  # noqa: F401 - autogenerate renders JSONB(astext_type=Text())

from sqlalchemy.dialects import postgresql

import praho.core.db

revision = '0750_collections'
down_revision = '0720_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('collection_runs',
    sa.Column('run_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('started_by', sa.String(length=100), nullable=True),
    sa.Column('finished_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collection_runs'))
    )
    with op.batch_alter_table('collection_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_collection_runs_run_at'), ['run_at'], unique=False)

    op.create_table('dunning_policies',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('retry_intervals_days', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('suspend_after_days', sa.Integer(), nullable=True),
    sa.Column('terminate_after_days', sa.Integer(), nullable=True),
    sa.Column('send_emails', sa.Boolean(), nullable=False),
    sa.Column('template_set', sa.String(length=40), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_policies')),
    sa.UniqueConstraint('code', name=op.f('uq_dunning_policies_code'))
    )
    op.create_table('dunning_policy_assignments',
    sa.Column('policy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('product_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('(customer_id IS NULL) <> (product_id IS NULL)', name=op.f('ck_dunning_policy_assignments_one_target')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_dunning_policy_assignments_customer_id_customers')),
    sa.ForeignKeyConstraint(['policy_id'], ['dunning_policies.id'], name=op.f('fk_dunning_policy_assignments_policy_id_dunning_policies')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_dunning_policy_assignments_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_policy_assignments')),
    sa.UniqueConstraint('customer_id', name=op.f('uq_dunning_policy_assignments_customer_id')),
    sa.UniqueConstraint('product_id', name=op.f('uq_dunning_policy_assignments_product_id'))
    )
    with op.batch_alter_table('dunning_policy_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dunning_policy_assignments_policy_id'), ['policy_id'], unique=False)

    op.create_table('dunning_cases',
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('policy_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('first_failure_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('opened_because', sa.String(length=300), nullable=False),
    sa.Column('steps_done', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('retries_made', sa.Integer(), nullable=False),
    sa.Column('next_step_on', sa.Date(), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('suspended_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('terminated_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('closed_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('updated_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_dunning_cases_customer_id_customers')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_dunning_cases_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['policy_id'], ['dunning_policies.id'], name=op.f('fk_dunning_cases_policy_id_dunning_policies')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_dunning_cases_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dunning_cases')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_dunning_cases_invoice_id'))
    )
    with op.batch_alter_table('dunning_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dunning_cases_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dunning_cases_next_step_on'), ['next_step_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_dunning_cases_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_dunning_cases_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('collection_actions',
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('run_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('step_key', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('attempt_number', sa.Integer(), nullable=True),
    sa.Column('payment_attempt_id', sa.BigInteger(), nullable=True),
    sa.Column('email_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('occurred_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['dunning_cases.id'], name=op.f('fk_collection_actions_case_id_dunning_cases')),
    sa.ForeignKeyConstraint(['email_message_id'], ['email_messages.id'], name=op.f('fk_collection_actions_email_message_id_email_messages')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_collection_actions_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['run_id'], ['collection_runs.id'], name=op.f('fk_collection_actions_run_id_collection_runs')),
    sa.ForeignKeyConstraint(['subscription_id'], ['subscriptions.id'], name=op.f('fk_collection_actions_subscription_id_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_collection_actions')),
    sa.UniqueConstraint('case_id', 'step_key', name=op.f('uq_collection_actions_case_id_step_key'))
    )
    with op.batch_alter_table('collection_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_collection_actions_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_collection_actions_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_collection_actions_run_id'), ['run_id'], unique=False)

    op.create_table('refunds',
    sa.Column('reference', sa.String(length=21), nullable=False),
    sa.Column('payment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('destination', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('split', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('internal_note', sa.Text(), nullable=True),
    sa.Column('customer_note', sa.Text(), nullable=True),
    sa.Column('gateway_note', sa.Text(), nullable=True),
    sa.Column('gateway_id', sa.String(length=40), nullable=True),
    sa.Column('gateway_reference', sa.String(length=255), nullable=True),
    sa.Column('gateway_status', sa.String(length=12), nullable=True),
    sa.Column('bank_reference', sa.String(length=100), nullable=True),
    sa.Column('requested_by', sa.String(length=100), nullable=True),
    sa.Column('approved_by', sa.String(length=100), nullable=True),
    sa.Column('completed_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('updated_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_refunds_customer_id_customers')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_refunds_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
    sa.UniqueConstraint('reference', name=op.f('uq_refunds_reference'))
    )
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refunds_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refunds_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_refunds_status'), ['status'], unique=False)

    op.create_table('refund_events',
    sa.Column('refund_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('from_status', sa.String(length=12), nullable=True),
    sa.Column('to_status', sa.String(length=12), nullable=True),
    sa.Column('actor', sa.String(length=100), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['refund_id'], ['refunds.id'], name=op.f('fk_refund_events_refund_id_refunds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refund_events'))
    )
    with op.batch_alter_table('refund_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_refund_events_refund_id'), ['refund_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('refund_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refund_events_refund_id'))

    op.drop_table('refund_events')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_refunds_status'))
        batch_op.drop_index(batch_op.f('ix_refunds_payment_id'))
        batch_op.drop_index(batch_op.f('ix_refunds_customer_id'))

    op.drop_table('refunds')
    with op.batch_alter_table('collection_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_collection_actions_run_id'))
        batch_op.drop_index(batch_op.f('ix_collection_actions_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_collection_actions_case_id'))

    op.drop_table('collection_actions')
    with op.batch_alter_table('dunning_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dunning_cases_subscription_id'))
        batch_op.drop_index(batch_op.f('ix_dunning_cases_status'))
        batch_op.drop_index(batch_op.f('ix_dunning_cases_next_step_on'))
        batch_op.drop_index(batch_op.f('ix_dunning_cases_customer_id'))

    op.drop_table('dunning_cases')
    with op.batch_alter_table('dunning_policy_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dunning_policy_assignments_policy_id'))

    op.drop_table('dunning_policy_assignments')
    op.drop_table('dunning_policies')
    with op.batch_alter_table('collection_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_collection_runs_run_at'))

    op.drop_table('collection_runs')
