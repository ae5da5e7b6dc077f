"""What one pass did, for the CLI, the loop's metrics and its sleep: nothing to do, a
certificate activated or issued, an order refused by a gate, or a failure with its reasons."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Action = Literal["nothing", "activated", "issued", "refused", "failed"]


@dataclass
class Outcome:
    action: Action
    message: str
    retry_at: datetime | None = None
    serial: str | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.action in ("nothing", "activated", "issued")
