"""eu_vat and bnr_rates plugins: dated VAT rules, VIES consultations, BNR exchange rates.

The VAT rules table is seeded from plugins/eu_vat/vat_rates.csv by the plugin itself on
first use (and by `praho vat rates sync`), so the data stays with the plugin's data file.

Revision ID: 0300_eu_vat_bnr_rates
Revises: 0001_core
Create Date: 2026-11-25 06:51:10.349325
"""

from __future__ import annotations

import praho.core.db
import sqlalchemy as sa
from alembic import op

revision = "0300_eu_vat_bnr_rates"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bnr_rate_fetches",
        sa.Column("started_at", praho.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("publishing_date", sa.Date(), nullable=True),
        sa.Column("first_rate_date", sa.Date(), nullable=True),
        sa.Column("last_rate_date", sa.Date(), nullable=True),
        sa.Column("rates_seen", sa.Integer(), nullable=False),
        sa.Column("rates_added", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bnr_rate_fetches")),
    )
    op.create_table(
        "eu_vat_rules",
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("tax_class", sa.String(length=20), nullable=False),
        sa.Column("rate", praho.core.db.ExactDecimal(7, 4), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("created_at", praho.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eu_vat_rules")),
        sa.UniqueConstraint(
            "country",
            "tax_class",
            "valid_from",
            name=op.f("uq_eu_vat_rules_country_tax_class_valid_from"),
        ),
    )
    op.create_table(
        "eu_vat_vies_checks",
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("vat_number", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=True),
        sa.Column("fault_code", sa.String(length=40), nullable=True),
        sa.Column("fault_message", sa.String(length=300), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("request_date", sa.Date(), nullable=True),
        sa.Column("request_identifier", sa.String(length=40), nullable=True),
        sa.Column("requester_vat_id", sa.String(length=20), nullable=True),
        sa.Column("checked_at", praho.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", praho.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eu_vat_vies_checks")),
    )
    with op.batch_alter_table("eu_vat_vies_checks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_eu_vat_vies_checks_lookup",
            ["country_code", "vat_number", "checked_at"],
            unique=False,
        )

    op.create_table(
        "bnr_exchange_rates",
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("rate", praho.core.db.ExactDecimal(18, 8), nullable=False),
        sa.Column("published_value", praho.core.db.ExactDecimal(14, 4), nullable=False),
        sa.Column("multiplier", sa.Integer(), nullable=False),
        sa.Column("publishing_date", sa.Date(), nullable=True),
        sa.Column("fetched_at", praho.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("fetch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["fetch_id"],
            ["bnr_rate_fetches.id"],
            name=op.f("fk_bnr_exchange_rates_fetch_id_bnr_rate_fetches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bnr_exchange_rates")),
        sa.UniqueConstraint(
            "source",
            "rate_date",
            "currency",
            name=op.f("uq_bnr_exchange_rates_source_rate_date_currency"),
        ),
    )
    with op.batch_alter_table("bnr_exchange_rates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bnr_exchange_rates_lookup", ["currency", "rate_date"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bnr_exchange_rates", schema=None) as batch_op:
        batch_op.drop_index("ix_bnr_exchange_rates_lookup")

    op.drop_table("bnr_exchange_rates")
    with op.batch_alter_table("eu_vat_vies_checks", schema=None) as batch_op:
        batch_op.drop_index("ix_eu_vat_vies_checks_lookup")

    op.drop_table("eu_vat_vies_checks")
    op.drop_table("eu_vat_rules")
    op.drop_table("bnr_rate_fetches")
