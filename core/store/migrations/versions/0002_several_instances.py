"""What several `serve` processes on one database share: claimed updates and per-second send slots.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from core.store.tables import METADATA

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("processed_updates", "send_slots")


def upgrade() -> None:
    METADATA.create_all(op.get_bind(), tables=[METADATA.tables[name] for name in TABLES])


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
