"""Who reaches a milestone on a day: the calendar of entitlements/milestones.py asked of the citizens table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from entitlements.milestones import CATCH_UP_DAYS, MILESTONES, Due, month_before, next_month, shift_years
from entitlements.persistence.tables import CitizenRow


def due_on(session: Session, today: date) -> Iterator[Due]:
    for milestone, (roles, years, month_early) in MILESTONES.items():
        for day in (today - timedelta(days=n) for n in range(CATCH_UP_DAYS, -1, -1)):
            # Whose birthday `years` on is `day` (or a month after `day`)? Leap-day births: both candidates.
            birthday = day if not month_early else next_month(day)
            born = [shift_years(birthday, -years)]
            if birthday.month == 3 and birthday.day == 1:
                leap = date(birthday.year - years, 2, 28) + timedelta(days=1)
                born.append(leap)
            rows = session.execute(
                select(CitizenRow.id, CitizenRow.household_id, CitizenRow.birth_date).where(
                    CitizenRow.birth_date.in_(set(born)),
                    CitizenRow.role.in_(roles),
                    CitizenRow.deceased_on.is_(None),
                )
            )
            for row in rows:
                reached = shift_years(row.birth_date, years)
                if month_early:
                    reached = month_before(reached)
                if reached == day:
                    yield Due(row.id, row.household_id, row.birth_date, milestone, day)
