"""The public-holiday calendar as dated data, and 민법 제161조: a period whose last day is a Saturday or a public
holiday ends on the next day (and, that day being one too, on the first working day after).

The days are those of 관공서의 공휴일에 관한 규정 (대통령령) 제2조 — Sundays, 설날·추석 (three days each), the
national days, election days — with its 제3조 substitute holidays (대체공휴일) and the temporary holidays the
government designated, kept in `public_holidays_kr.yaml` beside this module. That file is data, checked in with
its source: it was generated once from the `holidays` library (country KR, category public) by
`python -m rules_engine.public_holidays`, so evaluating a rule never needs the library, the network, or anything
that could change what an old decision said. Every Sunday is a 공휴일 by 제2조제1호 (by rule, not listed); a named
holiday on a Sunday is listed for its name.

Outside the years the file covers, only Saturdays and Sundays move a period's end (a holiday not yet designated
cannot be known); `covers` says which years those are, and the docs say so (docs/rules-format.md).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

from rules_engine.yaml_source import CatalogError, line_of, read_yaml

CALENDAR_FILE = Path(__file__).with_name("public_holidays_kr.yaml")
_DAY = timedelta(days=1)
_SATURDAY, _SUNDAY = 5, 6
# Long enough for any run of days off (the longest, 2025-10-03..10-09, is seven): where a run can start before
# the covered years and still reach into them.
_LONGEST_RUN = timedelta(days=14)


@dataclass(frozen=True)
class HolidayCalendar:
    """관공서의 공휴일 other than Sundays, by date, for the years `first`..`last` (inclusive)."""

    first: date
    last: date
    days: Mapping[date, str]
    source: str

    def is_day_off(self, day: date) -> bool:
        """A Saturday (민법 제161조 names it) or a 공휴일: a Sunday or a listed day."""
        return day.weekday() in (_SATURDAY, _SUNDAY) or day in self.days

    def next_working_day(self, day: date) -> date:
        """`day` itself unless it is a day off; then the first day after it that is not (민법 제161조)."""
        while self.is_day_off(day):
            day += _DAY
        return day

    def moves_beyond_weekends(self) -> dict[date, date]:
        """The days whose next working day is not what the Saturday/Sunday rule alone gives: every day off in a
        run of days off that holds a listed holiday. With the weekend rule for every other day, this is the whole
        calendar (the SQL translation writes it out so; see sql.next_working_day)."""
        result = {}
        day = self.first - _LONGEST_RUN
        while day <= self.last:
            moved = self.next_working_day(day)
            if moved != weekend_rule(day):
                result[day] = moved
            day += _DAY
        return result


def weekend_rule(day: date) -> date:
    """민법 제161조 with no holiday but Sundays: a Saturday moves two days, a Sunday one."""
    return day + _DAY * {_SATURDAY: 2, _SUNDAY: 1}.get(day.weekday(), 0)


def read_calendar(path: Path = CALENDAR_FILE) -> HolidayCalendar:
    """The calendar file, checked: every listed day a date within `covers`, each named."""
    raw = read_yaml(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("days"), dict):
        raise CatalogError(f"{path}: a holiday calendar has 'source', 'covers' and 'days'")
    covers = raw.get("covers")
    if not (isinstance(covers, dict) and all(isinstance(covers.get(k), date) for k in ("from", "until"))):
        raise CatalogError(f"{path}:{line_of(raw, 'covers')}: 'covers' is {{from: YYYY-MM-DD, until: YYYY-MM-DD}}")
    first, last = covers["from"], covers["until"]
    source = raw.get("source")
    if not isinstance(source, str) or not source.strip():
        raise CatalogError(f"{path}:{line_of(raw, 'source')}: 'source' says where the days come from")
    days = raw["days"]
    for day, name in days.items():
        if not isinstance(day, date) or not first <= day <= last:
            raise CatalogError(f"{path}:{line_of(days, str(day))}: {day!r} is not a date within 'covers'")
        if not isinstance(name, str) or not name.strip():
            raise CatalogError(f"{path}:{line_of(days, str(day))}: {day} needs the holiday's name")
    return HolidayCalendar(first, last, dict(days), source)


@cache
def calendar() -> HolidayCalendar:
    """The checked-in calendar, read once per process."""
    return read_calendar()


def next_working_day(day: date) -> date:
    return calendar().next_working_day(day)


# --- generating the data file (a maintainer's step, never run by the engine) ----------------------------------


# What the library says that was not checked against the text of the 규정 or an official notice.
UNCONFIRMED = (
    "노동절 (5월 1일) and 제헌절 (7월 17일) as 공휴일 from 2026, with substitute holidays, are the library's reading of"
    " the 2025 amendments; not checked against the 규정's text.",
    "Election days after 2026 (2028, 2030, 2032) are the library's computation under 공직선거법 제34조; a snap"
    " election or a temporary holiday designated later is not in the file until it is regenerated.",
)


def generate(first_year: int, last_year: int) -> str:
    """The calendar file's text for these years, from the `holidays` library (imported only here)."""
    import holidays  # here only: the engine itself never needs the library

    public = holidays.country_holidays(
        "KR", years=range(first_year, last_year + 1), language="ko", categories=("public",)
    )
    lines = [
        "# 관공서의 공휴일에 관한 규정 제2조·제3조 days; every Sunday is one too (제2조제1호), applied by rule.",
        "# Generated by `python -m rules_engine.public_holidays FIRST LAST`; do not edit by hand, regenerate.",
        f"source: holidays {holidays.__version__} (python-holidays, country KR, category public, language ko)",
        f"covers: {{from: {first_year}-01-01, until: {last_year}-12-31}}",
        "unconfirmed:",
        *(f"  - {note}" for note in UNCONFIRMED),
        "days:",
    ]
    lines += [f"  {day.isoformat()}: {name}" for day, name in sorted(public.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    first_year, last_year = (int(a) for a in sys.argv[1:3])
    CALENDAR_FILE.write_text(generate(first_year, last_year), encoding="utf-8")
    print(f"wrote {CALENDAR_FILE}")
