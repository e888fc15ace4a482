"""Core schema: customers, catalog, orders, documents, ledger, audit, webhooks.

On PostgreSQL, triggers make issued documents immutable and the journal and audit
trail append-only (the ORM guards in praho.core.immutability do the same on SQLite).

Revision ID: 0001_core
Revises: 
Create Date: 2026-11-25 06:29:28.672417
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import praho.core.db

revision = '0001_core'
down_revision = None
branch_labels = None
depends_on = None


# Columns an issued document may still change (payment and void bookkeeping).
_MUTABLE = (
    "ARRAY['status','voided_at','void_reason','amount_paid_minor','payment_status',"
    "'credited_minor','refunded_minor','converted_to_id','internal_note','updated_at']"
)

TRIGGERS_UP = [
    """
    CREATE FUNCTION praho_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'praho: % on % refused: the table is append-only', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'check_violation';
    END $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries "
    "FOR EACH ROW EXECUTE FUNCTION praho_append_only()",
    "CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE ON journal_lines "
    "FOR EACH ROW EXECUTE FUNCTION praho_append_only()",
    """
    CREATE FUNCTION praho_audit_guard() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'praho: audit events cannot be deleted' USING ERRCODE = 'check_violation';
        END IF;
        IF OLD.seq IS NOT NULL
           OR (to_jsonb(OLD) - ARRAY['seq','prev_hash','hash'])
              IS DISTINCT FROM (to_jsonb(NEW) - ARRAY['seq','prev_hash','hash']) THEN
            RAISE EXCEPTION 'praho: audit events are append-only' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER audit_events_guard BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION praho_audit_guard()",
    f"""
    CREATE FUNCTION praho_invoice_guard() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF OLD.locked_at IS NOT NULL THEN
                RAISE EXCEPTION 'praho: issued document % cannot be deleted', OLD.full_number
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN OLD;
        END IF;
        IF OLD.locked_at IS NOT NULL
           AND (to_jsonb(OLD) - {_MUTABLE}) IS DISTINCT FROM (to_jsonb(NEW) - {_MUTABLE}) THEN
            RAISE EXCEPTION 'praho: issued document % is immutable', OLD.full_number
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER invoices_guard BEFORE UPDATE OR DELETE ON invoices "
    "FOR EACH ROW EXECUTE FUNCTION praho_invoice_guard()",
    """
    CREATE FUNCTION praho_document_child_guard() RETURNS trigger AS $$
    DECLARE
        locked boolean;
    BEGIN
        SELECT bool_or(locked_at IS NOT NULL) INTO locked FROM invoices
         WHERE id IN (
            CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.invoice_id END,
            CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.invoice_id END);
        IF locked THEN
            RAISE EXCEPTION 'praho: % on % of an issued document refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'check_violation';
        END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql
    """,
] + [
    f"CREATE TRIGGER {table}_guard BEFORE INSERT OR UPDATE OR DELETE ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION praho_document_child_guard()"
    for table in ("invoice_lines", "invoice_allowances", "invoice_tax_subtotals")
]

TRIGGERS_DOWN = [
    f"DROP TRIGGER IF EXISTS {table}_guard ON {table}"
    for table in ("invoice_lines", "invoice_allowances", "invoice_tax_subtotals")
] + [
    "DROP TRIGGER IF EXISTS invoices_guard ON invoices",
    "DROP TRIGGER IF EXISTS audit_events_guard ON audit_events",
    "DROP TRIGGER IF EXISTS journal_lines_append_only ON journal_lines",
    "DROP TRIGGER IF EXISTS journal_entries_append_only ON journal_entries",
    "DROP FUNCTION IF EXISTS praho_document_child_guard()",
    "DROP FUNCTION IF EXISTS praho_invoice_guard()",
    "DROP FUNCTION IF EXISTS praho_audit_guard()",
    "DROP FUNCTION IF EXISTS praho_append_only()",
]


def upgrade() -> None:
    op.create_table('audit_chain_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('last_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head'))
    )
    op.create_table('audit_events',
    sa.Column('seq', sa.BigInteger(), nullable=True),
    sa.Column('occurred_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('actor_type', sa.String(length=10), nullable=False),
    sa.Column('actor_id', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('object_type', sa.String(length=40), nullable=False),
    sa.Column('object_id', sa.String(length=60), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=True),
    sa.Column('hash', sa.String(length=64), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('seq', name=op.f('uq_audit_events_seq'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_occurred_at'), ['occurred_at'], unique=False)

    op.create_table('customers',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('legal_name', sa.String(length=200), nullable=False),
    sa.Column('cui', sa.String(length=12), nullable=True),
    sa.Column('vat_id', sa.String(length=20), nullable=True),
    sa.Column('vat_payer', sa.Boolean(), nullable=False),
    sa.Column('cnp', sa.String(length=13), nullable=True),
    sa.Column('trade_register', sa.String(length=40), nullable=True),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('street', sa.String(length=150), nullable=False),
    sa.Column('city', sa.String(length=50), nullable=False),
    sa.Column('postal_code', sa.String(length=20), nullable=True),
    sa.Column('county', sa.String(length=6), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('invoice_mode', sa.String(length=10), nullable=False),
    sa.Column('payment_terms_days', sa.Integer(), nullable=False),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('code', name=op.f('uq_customers_code'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_cui'), ['cui'], unique=False)
        batch_op.create_index(batch_op.f('ix_customers_vat_id'), ['vat_id'], unique=False)

    op.create_table('document_series',
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('prefix', sa.String(length=20), nullable=False),
    sa.Column('reset_yearly', sa.Boolean(), nullable=False),
    sa.Column('padding', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_series')),
    sa.UniqueConstraint('code', name=op.f('uq_document_series_code'))
    )
    op.create_table('journal_entries',
    sa.Column('entry_date', sa.Date(), nullable=False),
    sa.Column('posted_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('memo', sa.String(length=300), nullable=False),
    sa.Column('source_type', sa.String(length=40), nullable=True),
    sa.Column('source_id', sa.BigInteger(), nullable=True),
    sa.Column('idempotency_key', sa.String(length=120), nullable=True),
    sa.Column('reversal_of_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['reversal_of_id'], ['journal_entries.id'], name=op.f('fk_journal_entries_reversal_of_id_journal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_journal_entries_idempotency_key'))
    )
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_entries_entry_date'), ['entry_date'], unique=False)

    op.create_table('ledger_accounts',
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('type', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_ledger_accounts'))
    )
    op.create_table('products',
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('name_en', sa.String(length=100), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('tax_class', sa.String(length=20), nullable=False),
    sa.Column('electronic_service', sa.Boolean(), nullable=False),
    sa.Column('unit_code', sa.String(length=3), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products')),
    sa.UniqueConstraint('code', name=op.f('uq_products_code'))
    )
    op.create_table('sellers',
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('legal_name', sa.String(length=200), nullable=False),
    sa.Column('cui', sa.String(length=12), nullable=False),
    sa.Column('vat_id', sa.String(length=20), nullable=True),
    sa.Column('vat_payer', sa.Boolean(), nullable=False),
    sa.Column('trade_register', sa.String(length=40), nullable=True),
    sa.Column('share_capital', sa.String(length=60), nullable=True),
    sa.Column('street', sa.String(length=150), nullable=False),
    sa.Column('city', sa.String(length=50), nullable=False),
    sa.Column('postal_code', sa.String(length=20), nullable=True),
    sa.Column('county', sa.String(length=6), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('iban', sa.String(length=34), nullable=False),
    sa.Column('bank_name', sa.String(length=100), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('tax_regime', sa.String(length=40), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sellers')),
    sa.UniqueConstraint('code', name=op.f('uq_sellers_code'))
    )
    op.create_table('webhook_events',
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('received_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.Column('processed_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('next_attempt_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('source', 'event_id', name=op.f('uq_webhook_events_source_event_id'))
    )
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_events_event_type'), ['event_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_events_status'), ['status'], unique=False)

    op.create_table('orders',
    sa.Column('number', sa.String(length=40), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('refund_state', sa.String(length=20), nullable=False),
    sa.Column('total_minor', sa.BigInteger(), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('placed_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_orders_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('number', name=op.f('uq_orders_number'))
    )
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orders_customer_id'), ['customer_id'], unique=False)

    op.create_table('prices',
    sa.Column('code', sa.String(length=80), nullable=False),
    sa.Column('product_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('nickname', sa.String(length=100), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('interval_months', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_prices_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prices')),
    sa.UniqueConstraint('code', name=op.f('uq_prices_code'))
    )
    with op.batch_alter_table('prices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prices_product_id'), ['product_id'], unique=False)

    op.create_table('series_counters',
    sa.Column('series_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['document_series.id'], name=op.f('fk_series_counters_series_id_document_series')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_series_counters')),
    sa.UniqueConstraint('series_id', 'year', name=op.f('uq_series_counters_series_id_year'))
    )
    op.create_table('invoices',
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('series_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('fiscal_year', sa.Integer(), nullable=True),
    sa.Column('number', sa.Integer(), nullable=True),
    sa.Column('full_number', sa.String(length=200), nullable=True),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seller_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seller_snapshot', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('buyer_snapshot', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=True),
    sa.Column('tax_point_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('payment_terms_days', sa.Integer(), nullable=False),
    sa.Column('exchange_rate', praho.core.db.ExactDecimal(16, 6), nullable=True),
    sa.Column('exchange_rate_date', sa.Date(), nullable=True),
    sa.Column('exchange_rate_source', sa.String(length=40), nullable=True),
    sa.Column('tax_regime', sa.String(length=40), nullable=True),
    sa.Column('tax_evidence', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('lines_net_minor', sa.BigInteger(), nullable=False),
    sa.Column('allowance_total_minor', sa.BigInteger(), nullable=False),
    sa.Column('charge_total_minor', sa.BigInteger(), nullable=False),
    sa.Column('taxable_minor', sa.BigInteger(), nullable=False),
    sa.Column('vat_minor', sa.BigInteger(), nullable=False),
    sa.Column('total_minor', sa.BigInteger(), nullable=False),
    sa.Column('prepaid_minor', sa.BigInteger(), nullable=False),
    sa.Column('payable_minor', sa.BigInteger(), nullable=False),
    sa.Column('vat_ron_minor', sa.BigInteger(), nullable=True),
    sa.Column('amount_paid_minor', sa.BigInteger(), nullable=False),
    sa.Column('payment_status', sa.String(length=16), nullable=False),
    sa.Column('credited_minor', sa.BigInteger(), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('original_invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('converted_from_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('converted_to_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('note', sa.String(length=300), nullable=True),
    sa.Column('internal_note', sa.Text(), nullable=True),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('issued_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('locked_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('issued_by', sa.String(length=100), nullable=True),
    sa.Column('voided_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('void_reason', sa.String(length=300), nullable=True),
    sa.Column('updated_at', praho.core.db.UTCDateTime(), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['converted_from_id'], ['invoices.id'], name=op.f('fk_invoices_converted_from_id_invoices')),
    sa.ForeignKeyConstraint(['converted_to_id'], ['invoices.id'], name=op.f('fk_invoices_converted_to_id_invoices')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_invoices_customer_id_customers')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_invoices_order_id_orders')),
    sa.ForeignKeyConstraint(['original_invoice_id'], ['invoices.id'], name=op.f('fk_invoices_original_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['seller_id'], ['sellers.id'], name=op.f('fk_invoices_seller_id_sellers')),
    sa.ForeignKeyConstraint(['series_id'], ['document_series.id'], name=op.f('fk_invoices_series_id_document_series')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('full_number', name=op.f('uq_invoices_full_number')),
    sa.UniqueConstraint('series_id', 'fiscal_year', 'number', name=op.f('uq_invoices_series_id_fiscal_year_number'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_due_date'), ['due_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_issue_date'), ['issue_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_original_invoice_id'), ['original_invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_status'), ['status'], unique=False)

    op.create_table('order_lines',
    sa.Column('order_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('price_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('quantity', praho.core.db.ExactDecimal(18, 6), nullable=False),
    sa.Column('unit_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders')),
    sa.ForeignKeyConstraint(['price_id'], ['prices.id'], name=op.f('fk_order_lines_price_id_prices')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_order_lines_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines'))
    )
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_lines_order_id'), ['order_id'], unique=False)

    op.create_table('price_versions',
    sa.Column('price_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('unit_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.String(length=100), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', praho.core.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['price_id'], ['prices.id'], name=op.f('fk_price_versions_price_id_prices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_versions')),
    sa.UniqueConstraint('price_id', 'effective_from', name=op.f('uq_price_versions_price_id_effective_from'))
    )
    with op.batch_alter_table('price_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_versions_price_id'), ['price_id'], unique=False)

    op.create_table('invoice_allowances',
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('is_charge', sa.Boolean(), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('base_amount_minor', sa.BigInteger(), nullable=True),
    sa.Column('percent', praho.core.db.ExactDecimal(7, 4), nullable=True),
    sa.Column('reason', sa.String(length=100), nullable=False),
    sa.Column('reason_code', sa.String(length=4), nullable=True),
    sa.Column('tax_category', sa.String(length=2), nullable=False),
    sa.Column('tax_rate', praho.core.db.ExactDecimal(7, 4), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_allowances_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_allowances'))
    )
    with op.batch_alter_table('invoice_allowances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_allowances_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('invoice_lines',
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('item_name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('product_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('price_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('quantity', praho.core.db.ExactDecimal(18, 6), nullable=False),
    sa.Column('unit_code', sa.String(length=3), nullable=False),
    sa.Column('unit_price', praho.core.db.ExactDecimal(20, 6), nullable=False),
    sa.Column('gross_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('line_allowance_minor', sa.BigInteger(), nullable=False),
    sa.Column('line_allowance_reason', sa.String(length=100), nullable=True),
    sa.Column('net_amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('tax_category', sa.String(length=2), nullable=False),
    sa.Column('tax_rate', praho.core.db.ExactDecimal(7, 4), nullable=False),
    sa.Column('tax_exemption_code', sa.String(length=30), nullable=True),
    sa.Column('tax_exemption_reason', sa.String(length=300), nullable=True),
    sa.Column('tax_note', sa.String(length=300), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['price_id'], ['prices.id'], name=op.f('fk_invoice_lines_price_id_prices')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_invoice_lines_product_id_products')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines'))
    )
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_lines_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('invoice_tax_subtotals',
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tax_category', sa.String(length=2), nullable=False),
    sa.Column('tax_rate', praho.core.db.ExactDecimal(7, 4), nullable=False),
    sa.Column('taxable_minor', sa.BigInteger(), nullable=False),
    sa.Column('tax_minor', sa.BigInteger(), nullable=False),
    sa.Column('tax_ron_minor', sa.BigInteger(), nullable=True),
    sa.Column('exemption_code', sa.String(length=30), nullable=True),
    sa.Column('exemption_reason', sa.String(length=300), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_tax_subtotals_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_tax_subtotals')),
    sa.UniqueConstraint('invoice_id', 'tax_category', 'tax_rate', name=op.f('uq_invoice_tax_subtotals_invoice_id_tax_category_tax_rate'))
    )
    with op.batch_alter_table('invoice_tax_subtotals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_tax_subtotals_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('journal_lines',
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_code', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['account_code'], ['ledger_accounts.code'], name=op.f('fk_journal_lines_account_code_ledger_accounts')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_journal_lines_customer_id_customers')),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entries.id'], name=op.f('fk_journal_lines_entry_id_journal_entries')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_journal_lines_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_lines'))
    )
    with op.batch_alter_table('journal_lines', schema=None) as batch_op:
        batch_op.create_index('ix_journal_lines_customer_account', ['customer_id', 'account_code', 'currency'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_lines_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_lines_invoice_id'), ['invoice_id'], unique=False)


    if op.get_bind().dialect.name == "postgresql":
        for statement in TRIGGERS_UP:
            op.execute(statement)

def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in TRIGGERS_DOWN:
            op.execute(statement)
    with op.batch_alter_table('journal_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_lines_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_journal_lines_entry_id'))
        batch_op.drop_index('ix_journal_lines_customer_account')

    op.drop_table('journal_lines')
    with op.batch_alter_table('invoice_tax_subtotals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_tax_subtotals_invoice_id'))

    op.drop_table('invoice_tax_subtotals')
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_lines_invoice_id'))

    op.drop_table('invoice_lines')
    with op.batch_alter_table('invoice_allowances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_allowances_invoice_id'))

    op.drop_table('invoice_allowances')
    with op.batch_alter_table('price_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_versions_price_id'))

    op.drop_table('price_versions')
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_order_lines_order_id'))

    op.drop_table('order_lines')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_status'))
        batch_op.drop_index(batch_op.f('ix_invoices_original_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_invoices_kind'))
        batch_op.drop_index(batch_op.f('ix_invoices_issue_date'))
        batch_op.drop_index(batch_op.f('ix_invoices_due_date'))
        batch_op.drop_index(batch_op.f('ix_invoices_customer_id'))

    op.drop_table('invoices')
    op.drop_table('series_counters')
    with op.batch_alter_table('prices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prices_product_id'))

    op.drop_table('prices')
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_customer_id'))

    op.drop_table('orders')
    with op.batch_alter_table('webhook_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_events_status'))
        batch_op.drop_index(batch_op.f('ix_webhook_events_event_type'))

    op.drop_table('webhook_events')
    op.drop_table('sellers')
    op.drop_table('products')
    op.drop_table('ledger_accounts')
    with op.batch_alter_table('journal_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_entries_entry_date'))

    op.drop_table('journal_entries')
    op.drop_table('document_series')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_vat_id'))
        batch_op.drop_index(batch_op.f('ix_customers_cui'))

    op.drop_table('customers')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_occurred_at'))
        batch_op.drop_index(batch_op.f('ix_audit_events_action'))

    op.drop_table('audit_events')
    op.drop_table('audit_chain_head')
