"""Alembic revisions, oldest first: 0001 is the schema the SQLite store had at PRAGMA user_version 9."""
