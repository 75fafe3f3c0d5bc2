"""Masking personal data for roles that work without it (caseworkers see cases, not people)."""

from __future__ import annotations

from datetime import date


def mask_id(value: str) -> str:
    """Enough to tell two cases apart on one screen, not enough to look a person up: `m-k***im`."""
    if len(value) <= 4:
        return "*" * len(value)
    keep = max(1, len(value) // 5)
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def masked_date(value: date | None) -> str:
    return f"{value.year}-**-**" if value else ""
