"""The guardrail's held writes; the source's last values per item (explain)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _name(length: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    stamp = sa.DateTime(timezone=True)
    op.create_table(
        "held_writes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("pipeline", _name(128), nullable=False),
        sa.Column("target", _name(32), nullable=False),
        sa.Column("target_key", _name(128), nullable=False),
        sa.Column("kind", _name(32), nullable=False),
        sa.Column("source_key", _name(128), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("reason", _name(32), nullable=False),
        sa.Column("status", _name(16), nullable=False),
        sa.Column("created_at", stamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_held_writes_run_id", "held_writes", ["run_id"])
    op.create_table(
        "source_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline", _name(128), nullable=False),
        sa.Column("source_key", _name(128), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("target_keys", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("read_at", stamp, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pipeline", "source_key"),
    )


def downgrade() -> None:
    op.drop_table("source_snapshots")
    op.drop_index("ix_held_writes_run_id", table_name="held_writes")
    op.drop_table("held_writes")
