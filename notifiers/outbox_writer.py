"""The outbox's writing side (entitlements.ports.Outbox): notifications rendered and queued in the unit of work
that writes their offers, so both commit or neither does; the dispatcher (notifiers/outbox.py) sends them after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from entitlements.matching import NotificationIntent, Offer
from entitlements.persistence.store import bulk_insert, languages_of
from entitlements.persistence.uow import session_of
from entitlements.ports import EventKey, UnitOfWork
from notifiers.doorbell import ring
from notifiers.rendering import NotificationTemplates
from notifiers.tables import NotificationRow
from notifiers.tact import on_deaths
from notifiers.texts import NotificationTexts, RenderedNotification
from rules_engine.catalog import Catalog

_DEATHS_PER_STATEMENT = 500  # within every driver's parameter limits


class NotificationOutbox:
    """Renders each intent in its recipient's language, writes the rows, rings the dispatchers' doorbell.

    Holds the memoised texts across batches; they are forgotten when the catalog changes (a rule edit)."""

    def __init__(self, templates: NotificationTemplates) -> None:
        self.templates = templates
        self._texts: NotificationTexts | None = None

    def add(
        self,
        unit: UnitOfWork,
        intents: Sequence[NotificationIntent],
        offers: Sequence[Offer],
        catalog: Catalog,
        trace_contexts: Mapping[EventKey, str] | None = None,
    ) -> int:
        if not intents:
            return 0
        session = session_of(unit)
        texts = self._texts_under(catalog)
        languages = languages_of(session, [i.recipient_id for i in intents])
        by_id = {o.id: o for o in offers}
        rendered = [texts.render(i, by_id, languages.get(i.recipient_id, "ko")) for i in intents]
        write_notifications(session, rendered, trace_contexts)
        return len(rendered)

    def cancel_for(self, unit: UnitOfWork, deceased: Sequence[str]) -> int:
        if not deceased:
            return 0
        session = session_of(unit)
        return sum(
            on_deaths(session, deceased[start : start + _DEATHS_PER_STATEMENT])
            for start in range(0, len(deceased), _DEATHS_PER_STATEMENT)
        )

    def _texts_under(self, catalog: Catalog) -> NotificationTexts:
        if self._texts is None:
            self._texts = NotificationTexts(self.templates, catalog)
        else:
            self._texts.use_catalog(catalog)
        return self._texts


def write_notifications(
    session: Session,
    notifications: Sequence[RenderedNotification],
    trace_contexts: Mapping[EventKey, str] | None = None,
) -> None:
    """Pending outbox rows, in the caller's transaction; dispatchers wake when it commits. Each keeps its event's
    `traceparent`, if it came with one, for the dispatcher's push span (docs/observability.md)."""
    if not notifications:
        return
    now = datetime.now(UTC)
    traces = trace_contexts or {}
    bulk_insert(
        session,
        NotificationRow,
        [
            {
                **n.__dict__,
                "offer_ids": list(n.offer_ids),
                "dispatch_status": "pending",
                "dispatch_attempts": 0,
                "created_at": now,
                "traceparent": traces.get((n.event_source, n.event_id)),
            }
            for n in notifications
        ],
    )
    ring(session)
