"""Calendar periods counted as Korean law counts them, and the months benefits are paid for.

A period's counting rule is always declared by the benefit (never implied), by one of the names in
`COUNTING_RULES`, each tied to the provision it comes from:

- 민법 제157조: a period in days, weeks, months or years does not count its first day (초일불산입), unless it
  starts at 0 h; a statute may say otherwise (민법 제155조), e.g. 아동수당법 제10조제2항 "출생일을 포함한 60일".
- 민법 제159조: the period ends at the end of its last day.
- 민법 제160조: months and years follow the calendar; the period ends the day before the day that corresponds, in
  the last month or year, to its first counted day; when the last month has no such day (31 Jan + 1 month), it
  ends on the last day of that month.
- 민법 제158조: ages count the day of birth, so one turns N the day after an N-year period that includes the birth
  day ends: the Nth birthday, or 1 March for a 29 February birthday in a common year.
- 민법 제161조: when a period's last day is a Saturday or a 공휴일, the period ends on the next day (the first
  working day: the next day may be one too). Whether a period's end moves is declared per period
  (`end_on_holiday`, one of `END_ON_HOLIDAY`), by default for the deadlines one acts by (deadlines.MOVES_ON_HOLIDAY);
  the holidays are dated data (public_holidays.py).

Months are represented by their first or last day (`month_start`, `month_end`), so "from the month of X" and
"until the month before Y" are plain dates that compare with any other date.

These functions are the reference the expression language calls (see `expressions.PERIOD_FUNCTIONS`); the SQL
translation (`sql.py`) computes the same with the database's date functions, and the tests compare both with
dateutil's relativedelta and the articles above written out independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from rules_engine.public_holidays import next_working_day as next_working_day

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class EndOnHoliday:
    """What happens to a period whose last day is a Saturday or a 공휴일."""

    name: str
    moves: bool
    reference: str
    meaning: dict[str, str]


END_ON_HOLIDAY: dict[str, EndOnHoliday] = {
    rule.name: rule
    for rule in (
        EndOnHoliday(
            "next_working_day",
            True,
            "민법 제161조",
            {
                "ko": "기간의 말일이 토요일 또는 공휴일이면 그 다음 날(다음 평일)로 만료한다",
                "en": "a last day on a Saturday or public holiday moves to the next working day",
            },
        ),
        EndOnHoliday(
            "unchanged",
            False,
            "민법 제161조가 적용되지 않는 날짜(연령·지원 기간의 끝, 이용권 사용 기한) "
            "또는 법령의 다른 정함(민법 제155조)",
            {
                "ko": "말일이 휴일이어도 그날 끝난다(기간의 만료가 아니라 권리의 끝이거나, 법령이 달리 정함)",
                "en": "ends on its last day even on a holiday (the end of a right, or a statute says so)",
            },
        ),
    )
}


@dataclass(frozen=True)
class CountingRule:
    name: str
    counts_first_day: bool
    reference: str
    meaning: dict[str, str]


COUNTING_RULES: dict[str, CountingRule] = {
    rule.name: rule
    for rule in (
        CountingRule(
            "civil_code",
            False,
            "민법 제157조 본문, 제159조, 제160조",
            {
                "ko": "초일불산입: 기산일(첫날)은 세지 않고 다음 날부터 센다",
                "en": "the first day is not counted; counting starts the next day",
            },
        ),
        CountingRule(
            "from_midnight",
            True,
            "민법 제157조 단서",
            {
                "ko": "기간이 오전 영시부터 시작하므로 첫날을 센다(예: '다음 날부터', '시행일부터')",
                "en": "the period starts at 0 h, so its first day counts (e.g. 'from the next day')",
            },
        ),
        CountingRule(
            "first_day_included",
            True,
            "민법 제155조 (법령에 다른 정함이 있는 경우), 예: 아동수당법 제10조제2항",
            {
                "ko": "법령이 첫날을 포함한다고 정한 기간(예: '출생일을 포함한 60일')",
                "en": "a statute says the first day is included (e.g. '60 days including the day of birth')",
            },
        ),
    )
}


def month_start(day: date, shift: int = 0) -> date:
    """The first day of the month `shift` months after the month of `day` (before it when negative)."""
    index = day.year * 12 + day.month - 1 + shift
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date, shift: int = 0) -> date:
    """The last day of the month `shift` months after the month of `day`."""
    return month_start(day, shift + 1) - _DAY


def first_counted_day(start: date, rule: str) -> date:
    """The first day a period from `start` counts (민법 제157조)."""
    return start if COUNTING_RULES[rule].counts_first_day else start + _DAY


def _after_months(first: date, months: int) -> date:
    """The end of a period of whole months whose first counted day is `first` (민법 제160조제2항·제3항)."""
    last_month = month_start(first, months)
    if first.day <= month_end(first, months).day:
        return last_month + timedelta(days=first.day - 2)  # the day before the corresponding day
    return month_end(first, months)  # no corresponding day: the end of that month


def period_end(start: date, days: int, months: int, rule: str) -> date:
    """The last day of a period of `days` days or `months` months from `start` (one of them is 0), inclusive."""
    first = first_counted_day(start, rule)
    if months:
        return _after_months(first, months)
    return first + timedelta(days=days - 1)


def turns(birth: date, months: int) -> date:
    """The day a person born on `birth` reaches the age of `months` months (12 per year), 민법 제158조·제160조."""
    return _after_months(birth, months) + _DAY
