"""Parameters of the law, keyed by the date each value takes effect (OpenFisca style)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Parameter:
    name: str
    description: dict[str, str]
    reference: str
    starts: tuple[date, ...]  # ascending
    values: tuple[Any, ...]
    dated_by: str | None = None  # a date fact whose date selects the value (e.g. the law at the birth date)

    def at(self, on: date) -> Any:
        """The value in force on `on`; None before the first value took effect."""
        index = bisect.bisect_right(self.starts, on) - 1
        return self.values[index] if index >= 0 else None
