"""Store inventory: store integrations, inventory items, SKU thresholds, stock alerts; a run's summary

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _name(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    stamp = sa.DateTime(timezone=True)
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("summary", sa.JSON(), nullable=True))
    op.create_table(
        "store_integrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _name(32), nullable=False),
        sa.Column("platform", _name(16), nullable=False),
        sa.Column("store_url", sa.Text(), nullable=False),
        sa.Column("credentials_env", _name(128), nullable=True),
        sa.Column("credentials_block", _name(128), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("auto_sync", sa.Boolean(), nullable=False),
        sa.Column("low_stock_threshold", sa.Integer(), nullable=True),
        sa.Column("created_at", stamp, nullable=False),
        sa.Column("updated_at", stamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "inventory_items",
        sa.Column("item_key", _name(300), nullable=False),
        sa.Column("integration", _name(32), nullable=False),
        sa.Column("product_id", _name(128), nullable=False),
        sa.Column("variant_id", _name(128), nullable=False),
        sa.Column("sku", _name(255), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("price", sa.Numeric(18, 4), nullable=True),
        sa.Column("compare_at_price", sa.Numeric(18, 4), nullable=True),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("source_updated_at", stamp, nullable=True),
        sa.Column("fingerprint", _name(64), nullable=True),
        sa.Column("first_seen_at", stamp, nullable=False),
        sa.Column("last_changed_at", stamp, nullable=False),
        sa.Column("last_synced_at", stamp, nullable=False),
        sa.PrimaryKeyConstraint("item_key"),
    )
    op.create_index("ix_inventory_items_integration", "inventory_items", ["integration", "removed"])
    op.create_index("ix_inventory_items_sku", "inventory_items", ["sku"])
    op.create_table(
        "sku_thresholds",
        sa.Column("integration", _name(32), nullable=False),
        sa.Column("sku", _name(255), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("integration", "sku"),
    )
    op.create_table(
        "stock_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_key", _name(300), nullable=False),
        sa.Column("integration", _name(32), nullable=False),
        sa.Column("sku", _name(255), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("opened_at", stamp, nullable=False),
        sa.Column("notified_at", stamp, nullable=True),
        sa.Column("resolved_at", stamp, nullable=True),
        sa.Column("resolved_stock", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_stock_alerts_open", "stock_alerts", ["resolved_at", "item_key"])


def downgrade() -> None:
    op.drop_index("ix_stock_alerts_open", table_name="stock_alerts")
    op.drop_table("stock_alerts")
    op.drop_table("sku_thresholds")
    op.drop_index("ix_inventory_items_sku", table_name="inventory_items")
    op.drop_index("ix_inventory_items_integration", table_name="inventory_items")
    op.drop_table("inventory_items")
    op.drop_table("store_integrations")
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("summary")
