"""One batch of Kafka records through the engine: decode, de-duplicate, match, persist (one transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from entitlements import store
from entitlements.households import Household
from entitlements.matching import NotificationIntent, Offer, on_birth_registered
from events.birth import BirthRegistered
from events.contracts import LifeEvent, partition_key
from events.dead_letter import DeadLetter
from events.errors import InvalidEvent
from events.kafka_record import decode
from notifiers.rendering import NotificationTemplates
from rules_engine.catalog import Catalog


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


@dataclass
class BatchResult:
    consumed: int = 0
    processed: int = 0
    duplicates: int = 0
    offers: int = 0
    undetermined: int = 0
    notifications: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)


def decode_records(records: Sequence[Record]) -> tuple[list[LifeEvent], list[DeadLetter]]:
    """Valid events in order, and a dead letter (with the reason and the original bytes) for each bad one."""
    good, bad = [], []
    for record in records:
        try:
            good.append(decode(record.value, record.headers))
        except InvalidEvent as error:
            bad.append(
                DeadLetter.of(
                    error,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key,
                    value=record.value or b"",
                    headers=record.headers,
                )
            )
    return good, bad


class LifeEventProcessor:
    """Holds what a worker needs across batches: the catalog, the templates and the database."""

    def __init__(self, sessions: sessionmaker[Session], catalog: Catalog, templates: NotificationTemplates) -> None:
        self.sessions, self.catalog, self.templates = sessions, catalog, templates

    def process(self, records: Sequence[Record]) -> BatchResult:
        events, dead = decode_records(records)
        result = BatchResult(consumed=len(records), dead_letters=dead)
        if events:
            self.apply(events, result)
        return result

    def apply(self, events: Sequence[LifeEvent], result: BatchResult) -> None:
        with self.sessions.begin() as session:
            seen = store.already_processed(session, [e.envelope.key for e in events])
            fresh: list[LifeEvent] = []
            for event in events:
                if event.envelope.key in seen:
                    result.duplicates += 1
                else:
                    seen.add(event.envelope.key)
                    fresh.append(event)
            households = store.households_of(session, _people(fresh))
            changed: dict[str, Household] = {}
            processed, offers, intents = [], [], []
            for event in fresh:
                outcome = self._handle(event, households)
                for member in outcome.household.members:
                    households[member] = outcome.household
                changed[outcome.household.id] = outcome.household
                processed.append(
                    store.ProcessedEvent(event.envelope.source, event.envelope.id, event.type, outcome.household.id)
                )
                offers.extend(outcome.offers)
                intents.extend(outcome.notifications)
            languages = store.languages_of(session, [i.recipient_id for i in intents])
            by_id = {o.id: o for o in offers}
            rendered = [self._render(i, by_id, languages.get(i.recipient_id, "ko")) for i in intents]
            store.save_batch(session, list(changed.values()), processed, offers, rendered)
        result.processed += len(fresh)
        result.offers += sum(1 for o in offers if o.status == "matched")
        result.undetermined += sum(1 for o in offers if o.status == "pending_review")
        result.notifications += len(rendered)

    def _handle(self, event: LifeEvent, households: dict[str, Household]) -> Any:
        data = event.data
        if isinstance(data, BirthRegistered):
            known = next((households[p.id] for p in data.parents if p.id in households), None)
            return on_birth_registered(event, known, partition_key(event), self.catalog)
        raise InvalidEvent(f"no handler for event type '{event.type}'")

    def _render(
        self, intent: NotificationIntent, offers: dict[str, Offer], language: str
    ) -> store.RenderedNotification:
        lines = [self.offer_view(offers[i]) for i in intent.offer_ids]
        ko = self.templates.render(intent.event_type, "ko", lines)
        en = self.templates.render(intent.event_type, "en", lines)
        lock = en if language == "en" else ko
        return store.RenderedNotification(
            id=intent.id,
            recipient_id=intent.recipient_id,
            household_id=intent.household_id,
            event_source=intent.event_source,
            event_id=intent.event_id,
            event_type=intent.event_type,
            category=intent.category,
            offer_ids=intent.offer_ids,
            language=language,
            lock_screen_title=lock.title,
            lock_screen_body=lock.body,
            message_ko=ko.message,
            message_en=en.message,
        )

    def offer_view(self, offer: Offer) -> dict[str, Any]:
        benefit = self.catalog.benefits[offer.benefit_id]
        return {
            "benefit_id": benefit.id,
            "name_ko": benefit.name["ko"],
            "name_en": benefit.name["en"],
            "agency_ko": benefit.agency.name["ko"],
            "agency_en": benefit.agency.name["en"],
            "summary_ko": benefit.summary["ko"],
            "summary_en": benefit.summary["en"],
            "amount_krw": offer.amount_krw,
            "payment": offer.payment,
            "deadline": offer.deadline.isoformat() if offer.deadline else None,
            "apply_url": benefit.apply_url,
            "apply_how_ko": benefit.apply_how["ko"],
            "apply_how_en": benefit.apply_how["en"],
        }


def _people(events: Sequence[LifeEvent]) -> list[str]:
    people: list[str] = []
    for event in events:
        if isinstance(event.data, BirthRegistered):
            people.extend(p.id for p in event.data.parents)
    return people
