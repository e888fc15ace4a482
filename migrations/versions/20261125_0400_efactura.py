"""e-Factura: one submission per document (state machine), its event history, OAuth tokens per CUI.

Revision ID: 0400_efactura
Revises: 0001_core
Create Date: 2026-11-25 06:42:32.878362
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import praho.core.db

revision = '0400_efactura'
down_revision = "0300_eu_vat_bnr_rates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('efactura_tokens',
    sa.Column('cui', sa.String(length=12), nullable=False),
    sa.Column('environment', sa.String(length=4), nullable=False),
    sa.Column('access_token_enc', sa.LargeBinary(), nullable=False),
    sa.Column('refresh_token_enc', sa.LargeBinary(), nullable=False),
    sa.Column('access_expires_at', praho.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('refresh_expires_at', praho.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_efactura_tokens')),
    sa.UniqueConstraint('cui', 'environment', name=op.f('uq_efactura_tokens_cui_environment'))
    )
    op.create_table('efactura_submissions',
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('document_number', sa.String(length=200), nullable=False),
    sa.Column('seller_cui', sa.String(length=12), nullable=False),
    sa.Column('standard', sa.String(length=3), nullable=False),
    sa.Column('b2c', sa.Boolean(), nullable=False),
    sa.Column('extern', sa.Boolean(), nullable=False),
    sa.Column('self_billed', sa.Boolean(), nullable=False),
    sa.Column('environment', sa.String(length=4), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('xml', sa.LargeBinary(), nullable=True),
    sa.Column('xml_sha256', sa.String(length=64), nullable=True),
    sa.Column('claimed_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('upload_index', sa.String(length=40), nullable=True),
    sa.Column('uploaded_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('poll_count', sa.Integer(), nullable=False),
    sa.Column('next_poll_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('download_id', sa.String(length=40), nullable=True),
    sa.Column('response_zip', sa.LargeBinary(), nullable=True),
    sa.Column('response_sha256', sa.String(length=64), nullable=True),
    sa.Column('anaf_errors', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('resolved_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('alerted_on', sa.Date(), nullable=True),
    sa.Column('updated_at', praho.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_efactura_submissions_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_efactura_submissions')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_efactura_submissions_invoice_id')),
    sa.UniqueConstraint('upload_index', name=op.f('uq_efactura_submissions_upload_index'))
    )
    with op.batch_alter_table('efactura_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_efactura_submissions_deadline'), ['deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_efactura_submissions_next_poll_at'), ['next_poll_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_efactura_submissions_seller_cui'), ['seller_cui'], unique=False)
        batch_op.create_index(batch_op.f('ix_efactura_submissions_state'), ['state'], unique=False)

    op.create_table('efactura_events',
    sa.Column('submission_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', praho.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('from_state', sa.String(length=12), nullable=True),
    sa.Column('to_state', sa.String(length=12), nullable=False),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['efactura_submissions.id'], name=op.f('fk_efactura_events_submission_id_efactura_submissions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_efactura_events'))
    )
    with op.batch_alter_table('efactura_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_efactura_events_submission_id'), ['submission_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('efactura_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_efactura_events_submission_id'))

    op.drop_table('efactura_events')
    with op.batch_alter_table('efactura_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_efactura_submissions_state'))
        batch_op.drop_index(batch_op.f('ix_efactura_submissions_seller_cui'))
        batch_op.drop_index(batch_op.f('ix_efactura_submissions_next_poll_at'))
        batch_op.drop_index(batch_op.f('ix_efactura_submissions_deadline'))

    op.drop_table('efactura_submissions')
    op.drop_table('efactura_tokens')
