"""Ploomes CRM: products, the webhook inbox and the count of refused deliveries

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 22:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamp = sa.DateTime(timezone=True)
    op.create_table(
        "ploomes_products",
        sa.Column("ploomes_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("code", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("product_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("subcategory", sa.Text(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("family_id", sa.Integer(), nullable=True),
        sa.Column("unit_price", sa.Numeric(18, 4), nullable=True),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("unit_of_measure", sa.Text(), nullable=True),
        sa.Column("custom_fields", sa.JSON(), nullable=False),
        sa.Column("source_created_at", stamp, nullable=True),
        sa.Column("source_updated_at", stamp, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("first_seen_at", stamp, nullable=False),
        sa.Column("last_changed_at", stamp, nullable=False),
        sa.Column("last_synced_at", stamp, nullable=False),
        sa.PrimaryKeyConstraint("ploomes_id"),
    )
    op.create_index("ix_ploomes_products_category", "ploomes_products", ["category", "product_type"])
    op.create_table(
        "ploomes_webhook_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", stamp, nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("claimed_at", stamp, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("applied_at", stamp, nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ploomes_webhook_inbox_pending", "ploomes_webhook_inbox", ["applied_at", "claimed_at"])
    op.create_table(
        "webhook_counts",
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", stamp, nullable=True),
        sa.PrimaryKeyConstraint("source", "outcome"),
    )


def downgrade() -> None:
    op.drop_table("webhook_counts")
    op.drop_index("ix_ploomes_webhook_inbox_pending", table_name="ploomes_webhook_inbox")
    op.drop_table("ploomes_webhook_inbox")
    op.drop_index("ix_ploomes_products_category", table_name="ploomes_products")
    op.drop_table("ploomes_products")
