"""Rounding of amounts as the law declares it (끝수의 처리), in whole KRW.

A benefit never rounds implicitly: its file declares the rounding of its amount (`rounding:`, applied once to the
final amount) and, where a statute rounds an intermediate figure, the rule says so with an explicit call
(`round_up(x, 20000)`: 장애인연금법 시행령 제5조제2항 "2만원 단위로 절상"). Both become the one function below,
which the compiled engine and the reference interpreter call, and which `sql.py` writes out with the same
integer arithmetic.

Methods, on whole numbers (amounts are never negative, so "down" is also truncation towards zero there):
- `down`: 절사 / "N원 미만은 계산하지 아니한다" (기초연금법 제24조, 장애인연금법 제20조의2): to the multiple of the
  unit at or below the value;
- `up`: 절상: to the multiple at or above it;
- `half_up`: 반올림 (사사오입): to the nearest multiple, a half going up.
"""

from __future__ import annotations

from dataclasses import dataclass

METHODS = ("down", "up", "half_up")
MEANINGS = {
    "down": {"ko": "절사(단위 미만 버림)", "en": "rounded down (the remainder below the unit is dropped)"},
    "up": {"ko": "절상(단위로 올림)", "en": "rounded up to the unit"},
    "half_up": {"ko": "반올림", "en": "rounded to the nearest unit, halves up"},
}
# The expression language's explicit calls and the method each stands for.
CALLS = {"round_down": "down", "round_up": "up", "round_half_up": "half_up"}


@dataclass(frozen=True)
class Rounding:
    """A benefit's declared rounding of its amount."""

    unit: int  # 1 (원 미만), 10 (10원 미만), 1000 ...
    method: str  # one of METHODS
    reference: str  # the provision that says so


def round_amount(value: int, unit: int, method: str) -> int:
    """`value` rounded to a multiple of `unit` by `method` (integers only: no float ever touches an amount)."""
    if method == "down":
        return value // unit * unit
    if method == "up":
        return -(-value // unit) * unit
    if method == "half_up":
        return (2 * value + unit) // (2 * unit) * unit
    raise ValueError(f"unknown rounding method {method!r}; one of {METHODS}")
