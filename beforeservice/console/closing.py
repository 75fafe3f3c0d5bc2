"""Who may close the loop on a benefit (issue #11, H2): only the agencies the catalog names for it.

`application.received` and `benefit.granted` turn a citizen's offer into applied or granted and stop its
reminders, so one agency must not close another's offers. The catalog names, per benefit, its own agency and any
listed under `closed_by` (docs/rules-format.md). The speaking agency is:

- over HTTP, the API key's agency (`mohw-seoul` speaks for `mohw`);
- on Kafka, where a record carries no credential, the agency that registered the event's `source`: the active
  agency key whose source prefix covers it on the most segments (the same prefixes the HTTP ingestion enforces);
  two agencies claiming it equally is no answer. The type's namespace must be that agency's as well.

Topic write access is itself a credential (granted to agencies' producers alone): this check keeps a producer
that may write from speaking for a benefit its agency does not own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from beforeservice.console.agencies import UnsafeSource, namespace_of, source_segments, type_namespace
from beforeservice.console.tables import AgencyKeyRow
from entitlements.persistence.uow import session_of
from entitlements.ports import UnitOfWork
from events.applications import ApplicationReceived, BenefitGranted
from events.contracts import LifeEvent
from events.errors import FieldError, InvalidEvent
from rules_engine.catalog import Catalog

Registrations = Sequence[tuple[str, tuple[str, ...]]]  # (agency, source prefix segments) of active keys


def closes_the_loop(event: LifeEvent) -> bool:
    return isinstance(event.data, ApplicationReceived | BenefitGranted)


def closing_refusal(catalog: Catalog, agency: str | None, event: LifeEvent) -> InvalidEvent | None:
    """Why `agency` may not send this loop event (403/422), or None when it may (or it is no loop event)."""
    data = event.data
    if not isinstance(data, ApplicationReceived | BenefitGranted):
        return None
    benefit = catalog.benefits.get(data.benefit_id)
    if benefit is None:
        return InvalidEvent(
            f"invalid field 'data.benefit_id': no benefit '{data.benefit_id}' in the catalog",
            [FieldError("data.benefit_id", "unknown benefit")],
            status=422,
        )
    if agency is None:
        return InvalidEvent(
            "the event's source is registered to no agency (or to several equally): nobody may close the loop "
            f"on benefit '{benefit.id}' from it",
            [FieldError("source", "not registered to one agency")],
            status=403,
        )
    speaker = namespace_of(agency)
    if type_namespace(event.type) != speaker:
        return InvalidEvent(
            f"agency '{agency}' may not send '{event.type}': its types are kr.go.{speaker}.*",
            [FieldError("type", f"outside the namespace kr.go.{speaker}.")],
            status=403,
        )
    if speaker not in benefit.closers:
        return InvalidEvent(
            f"agency '{agency}' may not report applications or grants of benefit '{benefit.id}'; "
            f"only {', '.join(benefit.closers)} may",
            [FieldError("data.benefit_id", f"benefit '{benefit.id}' is closed only by {', '.join(benefit.closers)}")],
            status=403,
        )
    return None


def registrations(session: Session) -> list[tuple[str, tuple[str, ...]]]:
    """Every active key's source prefixes, as (agency, segments)."""
    found = []
    for agency, prefixes in session.execute(
        select(AgencyKeyRow.agency, AgencyKeyRow.source_prefixes).where(AgencyKeyRow.revoked_at.is_(None))
    ):
        for prefix in prefixes:
            try:
                found.append((agency, source_segments(prefix)))
            except UnsafeSource:
                continue  # stored before prefixes were checked: it registers nothing
    return found


def source_owner(registered: Registrations, source: str) -> str | None:
    """The agency whose registered prefix covers `source` on the most segments; None if none or a tie."""
    try:
        segments = source_segments(source)
    except UnsafeSource:
        return None
    best, owners = 0, set()
    for agency, prefix in registered:
        if prefix and segments[: len(prefix)] == prefix:
            if len(prefix) > best:
                best, owners = len(prefix), {agency}
            elif len(prefix) == best:
                owners.add(agency)
    return next(iter(owners)) if len(owners) == 1 else None


def refuse_foreign_closings(
    session: Session, catalog: Catalog, events: Iterable[LifeEvent]
) -> dict[tuple[str, str], InvalidEvent]:
    """For the Kafka path: the refusal of each loop event its source's agency may not send, by (source, id)."""
    loop = [e for e in events if closes_the_loop(e)]
    if not loop:
        return {}
    registered = registrations(session)
    refusals = {}
    for event in loop:
        refusal = closing_refusal(catalog, source_owner(registered, event.envelope.source), event)
        if refusal is not None:
            refusals[event.envelope.key] = refusal
    return refusals


class AgencyLoopClosing:
    """entitlements.ports.LoopClosing for the worker: agencies by the sources their active keys registered, read in
    the batch's own transaction."""

    def closes_the_loop(self, event: LifeEvent) -> bool:
        return closes_the_loop(event)

    def refusals(
        self, unit: UnitOfWork, catalog: Catalog, events: Sequence[LifeEvent]
    ) -> dict[tuple[str, str], InvalidEvent]:
        return refuse_foreign_closings(session_of(unit), catalog, events)
