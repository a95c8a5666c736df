"""What one delivery pass did, by outcome: counted by core/deliver/delivery.py, printed by the CLI.

A plain record: it must not send, store or decide anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass
class DeliveryReport:
    """What one delivery pass did, by outcome."""

    day: date | None
    sent: int = 0
    parts: int = 0
    already: int = 0
    not_due: int = 0
    skipped_empty: int = 0
    failed: int = 0
    deactivated: int = 0
    migrated: int = 0
    gave_up: int = 0
    note: str = ""
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.day is None:
            return self.note or "nothing to deliver"
        return (f"{self.day}: sent {self.sent} ({self.parts} messages), already {self.already}, "
                f"not due {self.not_due}, empty {self.skipped_empty}, failed {self.failed}, "
                f"deactivated {self.deactivated}, migrated {self.migrated}" + (f"; {self.note}" if self.note else ""))
