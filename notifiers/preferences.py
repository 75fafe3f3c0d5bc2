"""How a citizen wants to be told: preferred language, easy-read mode and their own quiet hours."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from entitlements.persistence.store import among
from entitlements.persistence.tables import CitizenRow
from notifiers.rendering import EASY_READ, LANGUAGES, language_of
from notifiers.tables import PreferenceRow
from notifiers.timing import SEOUL, QuietHours

PREFERRED_LANGUAGES = tuple(lang for lang in LANGUAGES if lang != EASY_READ)  # easy-read is a mode, not a language


def set_preferences(
    session: Session,
    citizen_id: str,
    language: str,
    easy_read: bool,
    now: datetime,
    quiet: tuple[time, time] | None = None,
) -> PreferenceRow:
    """`quiet` is the citizen's own (start, end) local quiet hours; None: the service's default."""
    if language not in PREFERRED_LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; one of {list(PREFERRED_LANGUAGES)}")
    start, end = quiet if quiet is not None else (None, None)
    row = session.get(PreferenceRow, citizen_id)
    if row is None:
        row = PreferenceRow(citizen_id=citizen_id, language=language, easy_read=easy_read, updated_at=now)
        session.add(row)
    else:
        row.language, row.easy_read, row.updated_at = language, easy_read, now
    row.quiet_start, row.quiet_end = start, end
    # The event pipeline renders new notifications in the profile's language: keep it in step.
    session.execute(update(CitizenRow).where(CitizenRow.id == citizen_id).values(preferred_language=language))
    return row


def preferences_of(session: Session, citizen_id: str) -> PreferenceRow | None:
    return session.get(PreferenceRow, citizen_id)


def template_languages(session: Session, citizen_ids: Iterable[str]) -> dict[str, str]:
    """The template language (ko, en, vi or ko-easy) of each citizen who set preferences."""
    ids = list(set(citizen_ids))
    if not ids:
        return {}
    rows = session.scalars(select(PreferenceRow).where(among(session, PreferenceRow.citizen_id, ids)))
    return {r.citizen_id: language_of(r.language, r.easy_read) for r in rows}


def own_quiet_hours(session: Session, citizen_ids: Iterable[str], zone: ZoneInfo = SEOUL) -> dict[str, QuietHours]:
    """The quiet hours of each citizen who chose their own (the others keep the service's default)."""
    ids = list(set(citizen_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(PreferenceRow.citizen_id, PreferenceRow.quiet_start, PreferenceRow.quiet_end).where(
            among(session, PreferenceRow.citizen_id, ids),
            PreferenceRow.quiet_start.is_not(None),
            PreferenceRow.quiet_end.is_not(None),
        )
    )
    return {citizen: QuietHours(start, end, zone) for citizen, start, end in rows if start and end}
