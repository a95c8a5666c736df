"""The schema as the SQLite store had it at PRAGMA user_version 9, on SQLite and on PostgreSQL.

A new, empty database is created here from the version-9 tables of core/store/tables.py (V9_TABLES),
with each backend's full-text index.
An SQLite file made before Alembic (user_version 1..9) is brought to 9 by core/store/legacy.py and
stamped with this revision instead of running it.

When a later revision changes a table in core/store/tables.py, copy the version-9 definitions of that
table into this file first, so that a new database still passes through this schema.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

from alembic import op

from core.store.tables import METADATA, POSTGRES_FTS, SQLITE_FTS, V9_TABLES

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    METADATA.create_all(bind, tables=[METADATA.tables[name] for name in V9_TABLES])
    if bind.dialect.name == "postgresql":
        for statement in POSTGRES_FTS:
            op.execute(statement)
    else:
        op.execute(SQLITE_FTS)
        op.execute("PRAGMA user_version = 9")  # what a pre-Alembic reader of the file expects


def downgrade() -> None:
    raise NotImplementedError("the first revision has no downgrade: restore a backup instead")
