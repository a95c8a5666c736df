"""Alembic's migration scripts for the store, run by core/store/migrate.py (no alembic.ini needed)."""
