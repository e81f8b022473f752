"""Alembic environment: runs on the connection that sealbox.accounts.database.migrate hands over."""

from __future__ import annotations

from alembic import context

from sealbox.accounts.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through sealbox.accounts.database.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
