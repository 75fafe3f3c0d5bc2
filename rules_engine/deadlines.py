"""The dated deadlines of an offer, each with its kind: what happens the day after it is not the same.

A benefit declares them under `apply.deadlines` (docs/rules-format.md, "Deadlines and their kinds"), each the last
day of one of its periods. The kind says what its passing means, and so what the lifecycle, the reminders and the
texts do with it:

- `application_closes`: the last day to apply; after it the offer expires.
- `retroactive_window`: the last day to apply and still be paid back to the start (아동수당법 제10조제2항: within 60
  days of the birth, from the month of birth); after it the right stands, paid from the month of application.
  The offer stays open; its text changes.
- `use_by`: the last day a voucher can be used; the citizen is reminded before it lapses.
- `entitlement_ends`: the right itself ends (a benefit period, an age limit); the offer ends, granted or not.

This module is the one home of these words: the catalog reads them, decisions carry `DatedDeadline`s, the
entitlement row stores them (`as_json`), and the what-if evaluation prints them (`dated_deadlines`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rules_engine.evaluation import Decision


class DeadlineKind(StrEnum):
    APPLICATION_CLOSES = "application_closes"
    RETROACTIVE_WINDOW = "retroactive_window"
    USE_BY = "use_by"
    ENTITLEMENT_ENDS = "entitlement_ends"


K = DeadlineKind
# Kinds whose passing ends the offer: the last day it can be acted on. A benefit declares at most one.
ENDS_THE_OFFER = frozenset({K.APPLICATION_CLOSES, K.ENTITLEMENT_ENDS})
# Kinds the citizen is reminded of before they pass (an ending entitlement is not a call to act).
REMINDED = frozenset({K.APPLICATION_CLOSES, K.RETROACTIVE_WINDOW, K.USE_BY})
# Kinds whose period, by default, ends on the next working day when its last day is a Saturday or a 공휴일
# (민법 제161조): the last day to do something before an authority (apply; apply and be paid back). Not an
# entitlement's end (an age limit, a benefit period: the right ends, nobody has to act by it) nor a voucher's use-by
# day (it is used at shops, open on Saturdays; the issuing rule names the day). A benefit may declare otherwise per
# period (`end_on_holiday`), citing the statute; docs/rules-format.md, "Periods ending on a holiday".
MOVES_ON_HOLIDAY = frozenset({K.APPLICATION_CLOSES, K.RETROACTIVE_WINDOW})

MEANING: Mapping[DeadlineKind, Mapping[str, str]] = {
    K.APPLICATION_CLOSES: {
        "ko": "신청 기한: 이날이 지나면 신청할 수 없습니다",
        "en": "Application closes: after this day the offer expires",
    },
    K.RETROACTIVE_WINDOW: {
        "ko": "소급 신청 기한: 이날까지 신청하면 처음부터 받고, 그 뒤에는 신청한 달부터 받습니다",
        "en": "Retroactive window: apply by this day to be paid from the start; after it, from the month you apply",
    },
    K.USE_BY: {
        "ko": "사용 기한: 이날이 지나면 이용권을 쓸 수 없습니다",
        "en": "Use by: the voucher lapses after this day",
    },
    K.ENTITLEMENT_ENDS: {
        "ko": "지원 종료일: 이날로 받을 권리가 끝납니다",
        "en": "Entitlement ends: the right ends after this day",
    },
}


# Short labels, for a date shown beside them (console, approval notices).
LABEL: Mapping[DeadlineKind, Mapping[str, str]] = {
    K.APPLICATION_CLOSES: {"ko": "신청 기한", "en": "Apply by"},
    K.RETROACTIVE_WINDOW: {"ko": "소급 신청 기한", "en": "Apply for back-pay by"},
    K.USE_BY: {"ko": "사용 기한", "en": "Use by"},
    K.ENTITLEMENT_ENDS: {"ko": "지원 종료일", "en": "Entitlement ends"},
}

# Once the day has passed: a retroactive window's passing changes the offer's text, never closes it.
MEANING_PASSED: Mapping[DeadlineKind, Mapping[str, str]] = {
    K.APPLICATION_CLOSES: {
        "ko": "신청 기한이 지났습니다(기관이 늦은 신청을 받을 수도 있습니다)",
        "en": "The application closed (the agency may still accept a late one)",
    },
    K.RETROACTIVE_WINDOW: {
        "ko": "소급 신청 기한이 지났습니다: 지금 신청해도 받을 수 있고, 신청한 달부터 지급됩니다",
        "en": "The back-pay window has passed: you can still apply, and are paid from the month you apply",
    },
    K.USE_BY: {"ko": "사용 기한이 지났습니다", "en": "The voucher has lapsed"},
    K.ENTITLEMENT_ENDS: {"ko": "지원 기간이 끝났습니다", "en": "The entitlement has ended"},
}


@dataclass(frozen=True)
class DatedDeadline:
    """One deadline of one decision: its kind, the period it is the last day of, and that day (inclusive)."""

    kind: DeadlineKind
    period: str
    last_day: date

    def passed(self, today: date) -> bool:
        return today > self.last_day

    def words(self, today: date) -> Mapping[str, str]:
        """What this deadline means for the citizen on `today`, in Korean and English."""
        return (MEANING_PASSED if self.passed(today) else MEANING)[self.kind]

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind.value, "period": self.period, "last_day": self.last_day.isoformat()}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DatedDeadline:
        return cls(DeadlineKind(raw["kind"]), str(raw["period"]), date.fromisoformat(str(raw["last_day"])))


def dated_deadlines(decision: Decision) -> tuple[DatedDeadline, ...]:
    """The dated deadlines of a decision, with their kinds, in the order the benefit declares them.

    A deadline whose date cannot be told yet (a fact it counts from is unknown) is left out."""
    return decision.deadlines


def offer_end(deadlines: Iterable[DatedDeadline]) -> DatedDeadline | None:
    """The deadline after which the offer ends (application closes or the entitlement ends), if any."""
    return next((d for d in deadlines if d.kind in ENDS_THE_OFFER), None)


def of_kind(deadlines: Iterable[DatedDeadline], kind: DeadlineKind) -> DatedDeadline | None:
    return next((d for d in deadlines if d.kind is kind), None)


def to_json(deadlines: Sequence[DatedDeadline]) -> list[dict[str, str]]:
    return [d.as_json() for d in deadlines]


def from_json(raw: Iterable[Mapping[str, Any]] | None) -> tuple[DatedDeadline, ...]:
    return tuple(DatedDeadline.from_json(r) for r in raw or ())
