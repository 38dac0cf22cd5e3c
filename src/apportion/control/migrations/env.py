"""Alembic's entry point: migrations run on the connection the control plane hands over
(apportion.control.migrate), never on a URL of their own."""

from __future__ import annotations

from alembic import context

from apportion.control.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
