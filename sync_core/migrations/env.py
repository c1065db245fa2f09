"""Alembic environment: runs on the connection handed over by sync_core.db.upgrade."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import sync_core.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from sync_core.engine.registry import pipelines

pipelines()  # and those of the pipelines' own modules

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `catalog-sync db upgrade` (sync_core.db.upgrade)")

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
