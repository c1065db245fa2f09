"""Ingram Micro: tracked part numbers and their catalogue; a running run's progress

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingram_tracked_parts",
        sa.Column("ingram_part_number", sa.Text(), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ingram_part_number"),
    )
    money = sa.Numeric(14, 4)
    op.create_table(
        "ingram_products",
        sa.Column("ingram_part_number", sa.Text(), nullable=False),
        sa.Column("vendor_part_number", sa.Text(), nullable=True),
        sa.Column("upc", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status_code", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("authorized", sa.Boolean(), nullable=True),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("customer_price", money, nullable=True),
        sa.Column("retail_price", money, nullable=True),
        sa.Column("map_price", money, nullable=True),
        sa.Column("total_availability", sa.Integer(), nullable=True),
        sa.Column("availability_by_warehouse", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prices_fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("ingram_part_number"),
    )
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("progress", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("progress")
    op.drop_table("ingram_products")
    op.drop_table("ingram_tracked_parts")
