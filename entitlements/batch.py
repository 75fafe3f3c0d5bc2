"""One batch of Kafka records through the engine: decode, de-duplicate, match, persist (one unit of work)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from entitlements.lifecycle import EntitlementStatus, IllegalTransition
from entitlements.matching import ProfileBook, ProfileContradiction, handle
from entitlements.ports import LoopClosing, Outbox, ProcessedEvent, Units
from events.contracts import LifeEvent, people_of
from events.dead_letter import DeadLetter
from events.errors import FieldError, InvalidEvent
from events.kafka_record import decode
from events.privacy import Pseudonymizer, mask
from events.tracecontext import from_extension, from_headers
from rules_engine.catalog import Catalog

log = logging.getLogger(__name__)

# A dead letter must fit in one Kafka message (Faust's producer refuses requests over 1 MB by default); bigger
# originals keep their first bytes, and their topic/partition/offset say where the whole record still is.
DEAD_LETTER_VALUE_BYTES = 256 * 1024
MAX_EVENT_BYTES = 1_048_576  # as the API's default limit (settings.max_event_bytes)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    def dead_letter(self, error: InvalidEvent) -> DeadLetter:
        """Kept whole so nothing is lost (up to DEAD_LETTER_VALUE_BYTES), with any registration number masked."""
        value = self.value or b""
        if len(value) > DEAD_LETTER_VALUE_BYTES:
            note = FieldError(
                "value",
                f"truncated to {DEAD_LETTER_VALUE_BYTES:,} of {len(value):,} bytes; "
                f"the whole record is at {self.topic}/{self.partition}/{self.offset}",
            )
            error = InvalidEvent(error.reason, [*error.errors, note], error.status)
            value = value[:DEAD_LETTER_VALUE_BYTES]
        return DeadLetter.of(
            error,
            topic=self.topic,
            partition=self.partition,
            offset=self.offset,
            key=mask(self.key) if self.key is not None else None,
            value=mask(value),
            headers=[(name, mask(value)) for name, value in self.headers],
        )


@dataclass
class BatchResult:
    consumed: int = 0
    processed: int = 0
    duplicates: int = 0
    offers: int = 0
    undetermined: int = 0
    notifications: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    deceased: list[str] = field(default_factory=list)


def decode_records(
    records: Sequence[Record], pseudonymizer: Pseudonymizer, max_event_bytes: int = MAX_EVENT_BYTES
) -> tuple[list[tuple[Record, LifeEvent]], list[DeadLetter]]:
    """Valid events in order, and a dead letter (with the reason and the original bytes) for each bad one."""
    good, bad = [], []
    for record in records:
        try:
            if record.value is not None and len(record.value) > max_event_bytes:
                # Refused before parsing, as the API does (413): a huge body is not worth the CPU.
                raise InvalidEvent(
                    f"record value is {len(record.value):,} bytes; the limit is {max_event_bytes:,} bytes",
                    [FieldError("value", "too large")],
                    status=413,
                )
            good.append((record, decode(record.value, record.headers, pseudonymizer)))
        except InvalidEvent as error:
            bad.append(record.dead_letter(error))
    return good, bad


def trace_contexts(events: Sequence[tuple[Record, LifeEvent]]) -> dict[tuple[str, str], str]:
    """Each event's W3C traceparent, by event key: the record's `traceparent` header (the hop that brought it),
    else the event's distributed-tracing extension; events with neither have none (docs/observability.md)."""
    found = {}
    for record, event in events:
        context = from_headers(record.headers) or from_extension(event.envelope.model_extra or {})
        if context is not None:
            found[event.envelope.key] = context.traceparent
    return found


class LifeEventProcessor:
    """Holds what a worker needs across batches: the catalog and the ports (wired by beforeservice/bootstrap.py)."""

    def __init__(
        self,
        units: Units,
        outbox: Outbox,
        loop_closing: LoopClosing,
        catalog: Catalog | Callable[[], Catalog],
        pseudonymizer: Pseudonymizer,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.units, self.outbox, self.loop_closing = units, outbox, loop_closing
        self.pseudonymizer, self.max_event_bytes = pseudonymizer, max_event_bytes
        # A callable (CatalogWatch.current) lets rule edits take effect between batches, never within one.
        self._catalog_now = catalog if callable(catalog) else (lambda: catalog)
        self.catalog = self._catalog_now()

    def process(self, records: Sequence[Record]) -> BatchResult:
        events, dead = decode_records(records, self.pseudonymizer, self.max_event_bytes)
        result = BatchResult(consumed=len(records), dead_letters=dead)
        if events:
            self.apply(events, result)
        return result

    def apply(self, events: Sequence[tuple[Record, LifeEvent]], result: BatchResult) -> None:
        self.catalog = catalog = self._catalog_now()
        with self.units() as unit:
            seen = unit.already_processed([e.envelope.key for _, e in events])
            fresh: list[tuple[Record, LifeEvent]] = []
            for record, event in events:
                if event.envelope.key in seen:
                    result.duplicates += 1
                else:
                    seen.add(event.envelope.key)
                    fresh.append((record, event))
            households = unit.households_of([p for _, e in fresh for p in people_of(e)])
            # Households an agency closes the loop for: every entitlement its event may concern is loaded, so that
            # the transition table decides (entitlements/lifecycle.py), not a row the batch did not read.
            closing = {
                households[p].id
                for _, e in fresh
                if self.loop_closing.closes_the_loop(e)
                for p in people_of(e)
                if p in households
            }
            book = ProfileBook(households, unit.open_entitlements({h.id for h in households.values()}, closing))
            changed: dict[str, Any] = {}
            processed, offers, intents, changes = [], [], [], []
            foreign = self.loop_closing.refusals(unit, catalog, [e for _, e in fresh])  # H2: not its benefit
            for record, event in fresh:
                if event.envelope.key in foreign:
                    result.dead_letters.append(record.dead_letter(foreign[event.envelope.key]))
                    continue
                try:
                    outcome = handle(event, book, catalog)
                except ProfileContradiction as contradiction:
                    result.dead_letters.append(
                        record.dead_letter(
                            InvalidEvent(str(contradiction), [FieldError("data", "contradicts the profile store")])
                        )
                    )
                    continue
                except IllegalTransition as forbidden:  # the lifecycle's gate: nothing of this event is written
                    log.warning("dead-lettered %s %s: %s", event.type, event.envelope.key, forbidden)
                    result.dead_letters.append(
                        record.dead_letter(
                            InvalidEvent(
                                f"forbidden status change: {forbidden}",
                                [FieldError("data", "a status change the entitlement lifecycle does not allow")],
                            )
                        )
                    )
                    continue
                for household in outcome.households:
                    changed[household.id] = household
                household_id = outcome.households[0].id if outcome.households else None
                processed.append(ProcessedEvent(event.envelope.source, event.envelope.id, event.type, household_id))
                offers.extend(outcome.offers)
                intents.extend(outcome.notifications)
                changes.extend(outcome.status_changes)
                result.deceased.extend(outcome.deceased)
            unit.save(list(changed.values()), processed, offers, changes)
            # The transactional outbox: the notifications commit with their offers, or neither does.
            notifications = self.outbox.add(unit, intents, offers, catalog, trace_contexts(fresh))
            if result.deceased:  # tact: nothing more is pushed to the deceased's devices, in the death's transaction
                self.outbox.cancel_for(unit, result.deceased)
            unit.commit()
        result.processed += len(processed)
        result.offers += sum(1 for o in offers if o.status is EntitlementStatus.MATCHED)
        result.undetermined += sum(1 for o in offers if o.status is EntitlementStatus.PENDING_REVIEW)
        result.notifications += notifications
