"""Where the batch's and re-evaluation's ports meet their adapters: the SQL unit of work, the notifiers' outbox
and the agencies' loop-closing check (entitlements/ports.py). Every process builds them here."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from beforeservice.console.closing import AgencyLoopClosing
from entitlements.batch import MAX_EVENT_BYTES, LifeEventProcessor
from entitlements.persistence.uow import SqlUnitOfWork
from entitlements.reevaluation import Reevaluator
from events.privacy import Pseudonymizer
from notifiers.outbox_writer import NotificationOutbox
from notifiers.rendering import NotificationTemplates, shared_templates
from rules_engine.catalog import Catalog


def life_event_processor(
    sessions: sessionmaker[Session],
    catalog: Catalog | Callable[[], Catalog],
    templates: NotificationTemplates,
    pseudonymizer: Pseudonymizer,
    max_event_bytes: int = MAX_EVENT_BYTES,
) -> LifeEventProcessor:
    return LifeEventProcessor(
        partial(SqlUnitOfWork, sessions),
        NotificationOutbox(templates),
        AgencyLoopClosing(),
        catalog,
        pseudonymizer,
        max_event_bytes,
    )


def reevaluator(sessions: sessionmaker[Session], templates: NotificationTemplates | None = None) -> Reevaluator:
    return Reevaluator(partial(SqlUnitOfWork, sessions), NotificationOutbox(templates or shared_templates()))
