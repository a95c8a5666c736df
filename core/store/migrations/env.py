"""Alembic's environment: run the revisions on the connection core/store/migrate.py hands over.

Online only: the store always migrates a live database (`arxiv-digest migrate`, or a new empty one at
start-up), never by writing an SQL script.
"""

from __future__ import annotations

from alembic import context

from core.store.tables import METADATA

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `arxiv-digest migrate`, not the alembic command")
context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
