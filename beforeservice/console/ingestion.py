"""Agencies post CloudEvents over HTTP (structured, binary or batched): authenticated, scoped, idempotent.

Order of checks: size, JSON depth and lone surrogates (413/400, beforeservice.api.request_guard, before anything
else), key (401), rate (429), parse (400/415), resident registration numbers (422: refused outside the `rrn`
field, pseudonymised inside it, exactly as the Kafka path does, before anything is stored or produced), scope
(403: type or spoofed source), contract (422), who may close the loop on a benefit (403, beforeservice.console.
closing), idempotency (409 for a reused id with another payload), then the broker (202 once it has it).

The rate limit counts events: a batch of N costs N (beforeservice.console.rate_limits, shared by every API
process). A batch larger than what the key has left is cut: the first events it can afford are taken, each later
one is answered 429 in the batch result (with `retry_after`); with nothing left at all the request is 429.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, HTTPException, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from opentelemetry.trace import Span
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from beforeservice import metrics, tracing
from beforeservice.api.deps import (
    CatalogDep,
    ProducerDep,
    PseudonymizerDep,
    RateLimiterDep,
    SessionsDep,
    SettingsDep,
)
from beforeservice.api.openapi import CLOUDEVENT_REF
from beforeservice.api.problems import invalid_event, problem
from beforeservice.console.agencies import AgencyCaller, authenticate_key
from beforeservice.console.closing import closing_refusal
from beforeservice.console.rate_limits import Allowance, RateLimiter
from beforeservice.console.tables import IngestedEventRow
from events.cloudevents import STRUCTURED_CONTENT_TYPE, CloudEvent, parse_binary, parse_structured
from events.contracts import LifeEvent, partition_key, validate
from events.errors import FieldError, InvalidEvent
from events.privacy import Pseudonymizer, looks_like_rrn, protect_event
from events.topics import LIFE_EVENTS
from events.tracecontext import TRACEPARENT, TRACESTATE, TraceContext, check_extension, from_headers
from rules_engine.catalog import Catalog

log = logging.getLogger(__name__)
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
_api_key = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An agency API key (`beforeservice agencies add`)"
)

router = APIRouter(tags=["agencies"])
BINARY_MODE_HEADERS = [
    {"name": f"ce-{name}", "in": "header", "required": False, "schema": {"type": "string"}, "description": text}
    for name, text in (
        ("specversion", "Binary mode: 1.0"),
        ("id", "Binary mode: the event id"),
        ("source", "Binary mode: the event source"),
        ("type", "Binary mode: the event type"),
    )
]


class Accepted(BaseModel):
    id: str
    source: str
    type: str


class BatchItemResult(BaseModel):
    index: int
    status: int
    id: str | None = None
    source: str | None = None
    type: str | None = None
    problem: dict[str, Any] | None = None


class BatchResult(BaseModel):
    accepted: int
    refused: int
    results: list[BatchItemResult]


def agency_caller(sessions: SessionsDep, key: Annotated[str | None, Security(_api_key)]) -> AgencyCaller:
    if not key:
        raise HTTPException(401, "an agency API key is required (X-API-Key)", headers={"WWW-Authenticate": "ApiKey"})
    with sessions() as session:
        caller = authenticate_key(session, key)
    if caller is None:
        raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "ApiKey"})
    return caller


CurrentAgency = Annotated[AgencyCaller, Depends(agency_caller)]


@dataclass(frozen=True)
class Intake:
    """What accepting events takes: the claims table, the catalog's closing rules, sealing, the broker, the limit."""

    sessions: sessionmaker[Session]
    catalog: Catalog
    pseudonymizer: Pseudonymizer
    producer: AIOKafkaProducer
    limiter: RateLimiter
    produce_timeout_seconds: float  # KAFKA_PRODUCE_TIMEOUT_SECONDS: a prompt 503 when the broker is gone


async def intake(
    sessions: SessionsDep,
    catalog: CatalogDep,
    pseudonymizer: PseudonymizerDep,
    producer: ProducerDep,
    limiter: RateLimiterDep,
    settings: SettingsDep,
) -> Intake:
    return Intake(sessions, catalog, pseudonymizer, producer, limiter, settings.kafka_produce_timeout_seconds)


IntakeDep = Annotated[Intake, Depends(intake)]


@dataclass
class Outcome:
    status: int
    event: CloudEvent | None = None
    refusal: JSONResponse | None = None
    span: Span | None = None  # the event's ingestion span (beforeservice/tracing.py)
    onward: TraceContext | None = None  # the trace context its Kafka record carries
    repeat: bool = False  # accepted before with the same payload: not produced again
    about: CloudEvent | None = None  # the event it concerns, once its RRNs are protected (for the log line)


_REFUSALS = {
    400: {"description": "Malformed event"},
    401: {"description": "No or unknown API key"},
    403: {"description": "The key may not emit this type or source, or close the loop on this benefit"},
    409: {"description": "This source+id was accepted before with another payload"},
    413: {"description": "Body too large"},
    415: {"description": "Unsupported content type"},
    422: {"description": "Event breaks its contract"},
    429: {"description": "Rate limit exceeded: it counts events, a batch costs one per event (see Retry-After)"},
}


@router.post(
    "/v1/events",
    status_code=202,
    response_model=Accepted,
    responses=_REFUSALS,  # type: ignore[arg-type]
    openapi_extra={
        "parameters": BINARY_MODE_HEADERS,
        "requestBody": {
            "required": True,
            "description": "Structured mode: the whole event. Binary mode: the data alone, with ce-* headers.",
            "content": {
                STRUCTURED_CONTENT_TYPE: {"schema": CLOUDEVENT_REF},
                "application/json": {"schema": {"description": "The event's data (binary mode)"}},
            },
        },
        "responses": {"503": {"description": "The event log is unavailable; retry later"}},
    },
)
async def post_event(request: Request, caller: CurrentAgency, settings: SettingsDep, intake: IntakeDep) -> Any:
    """Accept one CloudEvent, structured (`application/cloudevents+json`) or binary (`ce-*` headers)."""
    allowance = await _allowance(intake, caller, 1)
    if not allowance.granted:
        return _refused(_rate_problem(caller, allowance))
    body = await _body_within(request, settings.max_event_bytes)
    if isinstance(body, JSONResponse):
        return body
    try:
        envelope = _parse(request, body)
    except InvalidEvent as error:
        return _refused(invalid_event(error))
    outcome = (await _ingest(intake, caller, [envelope], from_headers(request.headers)))[0]
    if outcome.refusal is not None:
        return _refused(outcome.refusal)
    assert outcome.event is not None
    return Accepted(id=outcome.event.id, source=outcome.event.source, type=outcome.event.type)


@router.post(
    "/v1/events:batch",
    response_model=BatchResult,
    responses=_REFUSALS,  # type: ignore[arg-type]
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "Structured events, at most MAX_BATCH_EVENTS (1,000 by default).",
            "content": {
                BATCH_CONTENT_TYPE: {"schema": {"type": "array", "minItems": 1, "items": CLOUDEVENT_REF}},
            },
        },
    },
)
async def post_events_batch(request: Request, caller: CurrentAgency, settings: SettingsDep, intake: IntakeDep) -> Any:
    """Accept up to 1,000 structured CloudEvents (`application/cloudevents-batch+json`); one result per event."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(BATCH_CONTENT_TYPE):
        return _refused(
            problem(
                415, "Unsupported content type", f"a batch needs Content-Type: {BATCH_CONTENT_TYPE}", "invalid-event"
            )
        )
    body = await _body_within(request, settings.max_batch_bytes)
    if isinstance(body, JSONResponse):
        return body
    try:
        items = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _refused(problem(400, "Invalid batch", f"body is not valid JSON: {exc}", "invalid-event"))
    if not isinstance(items, list) or not items:
        return _refused(problem(400, "Invalid batch", "a batch is a non-empty JSON array of events", "invalid-event"))
    if len(items) > settings.max_batch_events:
        return _refused(
            problem(413, "Batch too large", f"a batch holds at most {settings.max_batch_events} events", "too-large")
        )
    allowance = await _allowance(intake, caller, len(items))
    if not allowance.granted:
        return _refused(_rate_problem(caller, allowance))
    parsed: list[CloudEvent | JSONResponse] = []
    for index, item in enumerate(items):
        if index >= allowance.granted:  # beyond what the key may send now: not looked at
            parsed.append(_rate_problem(caller, allowance, per_event=True))
            continue
        try:
            if not isinstance(item, dict):
                raise InvalidEvent("each batch item must be a JSON object", [FieldError("body", "not an object")])
            parsed.append(parse_structured(json.dumps(item)))
        except InvalidEvent as error:
            parsed.append(invalid_event(error))
    envelopes = [p for p in parsed if isinstance(p, CloudEvent)]
    outcomes = iter(await _ingest(intake, caller, envelopes, from_headers(request.headers)))
    results = []
    for index, item in enumerate(parsed):
        outcome = Outcome(item.status_code, refusal=item) if isinstance(item, JSONResponse) else next(outcomes)
        if outcome.refusal is not None:
            metrics.API_EVENTS_REFUSED.labels(status=str(outcome.status)).inc()
            results.append(
                BatchItemResult(index=index, status=outcome.status, problem=json.loads(bytes(outcome.refusal.body)))
            )
        else:
            assert outcome.event is not None
            e = outcome.event
            results.append(BatchItemResult(index=index, status=202, id=e.id, source=e.source, type=e.type))
    accepted = sum(1 for r in results if r.status == 202)
    return BatchResult(accepted=accepted, refused=len(results) - accepted, results=results)


async def _ingest(
    intake: Intake, caller: AgencyCaller, envelopes: list[CloudEvent], incoming: TraceContext | None = None
) -> list[Outcome]:
    """Scope, contract and idempotency per event; the fresh ones go to the broker together.

    `incoming`: the request's W3C `traceparent` header, if valid (an invalid one is ignored, as W3C Trace Context
    says); an event's own distributed-tracing extension wins over it, and must be valid (400 otherwise)."""
    outcomes: list[Outcome] = []
    fresh: list[tuple[Outcome, LifeEvent]] = []
    checked: list[tuple[Outcome, LifeEvent | None]] = []
    for envelope in envelopes:
        span: Span | None = None
        protected: CloudEvent | None = None
        try:
            envelope = protected = protect_event(envelope, intake.pseudonymizer)  # first: nothing below may keep an RRN
            span = tracing.start_ingestion(envelope, caller.agency, incoming)
            check_extension(envelope.model_extra or {})
            _authorise(caller, envelope)
            valid = validate(envelope)
            if refusal := closing_refusal(intake.catalog, caller.agency, valid):
                raise refusal
            onward = tracing.onward(span, envelope, incoming)
            checked.append((Outcome(202, envelope, span=span, onward=onward, about=envelope), valid))
        except HTTPException as exc:
            forbidden = problem(403, "Forbidden", str(exc.detail), "forbidden")
            checked.append((Outcome(exc.status_code, refusal=forbidden, span=span, about=protected), None))
        except InvalidEvent as error:
            refused = invalid_event(error)
            checked.append((Outcome(error.status, refusal=refused, span=span, about=protected), None))
    claims = await run_in_threadpool(_claim, intake.sessions, caller, [e for _, e in checked if e is not None])
    claim_of = iter(claims)
    for outcome, event in checked:
        if event is not None:
            verdict = next(claim_of)
            if verdict == "conflict":
                outcome = Outcome(
                    409,
                    refusal=problem(
                        409,
                        "Event id reused",
                        f"an event with source '{event.envelope.source}' and id '{event.envelope.id}' was accepted "
                        "before with a different payload; send a new id",
                        "duplicate-id",
                    ),
                    span=outcome.span,
                    about=outcome.about,
                )
            elif verdict == "new":
                fresh.append((outcome, event))
            else:
                outcome.repeat = True
        outcomes.append(outcome)
    await _produce_all(intake, fresh)
    for outcome in outcomes:
        if outcome.span is not None:
            tracing.end_ingestion(outcome.span, outcome.status, outcome.repeat)
        _log(caller, outcome)
    return outcomes


def _log(caller: AgencyCaller, outcome: Outcome) -> None:
    """One line per event: its ids, the agency, what became of it. A refusal names its type and fields, never the
    values (an agency's bad input may hold anything)."""
    about, onward = outcome.about, outcome.onward
    fields: dict[str, Any] = {
        "agency": caller.agency,
        "status": outcome.status,
        "event_id": about.id if about else None,
        "event_type": about.type if about else None,
        "trace_id": onward.trace_id if onward else tracing.trace_id_of(outcome.span) if outcome.span else None,
    }
    if outcome.refusal is None:
        log.info("life event %s", "accepted again (a repeat)" if outcome.repeat else "accepted", extra=fields)
        return
    body = json.loads(bytes(outcome.refusal.body))
    named = ",".join(str(e.get("field", "")) for e in body.get("errors", []) if isinstance(e, dict))
    fields["reason"] = str(body.get("type", "")).rsplit("/", 1)[-1] + (f" ({named})" if named else "")
    log.info("life event refused", extra=fields)


def _authorise(caller: AgencyCaller, envelope: CloudEvent) -> None:
    if not caller.may_emit_type(envelope.type):
        raise HTTPException(403, f"agency '{caller.agency}' may not emit events of type '{envelope.type}'")
    if not caller.may_use_source(envelope.source):
        raise HTTPException(403, f"agency '{caller.agency}' may not emit events from source '{envelope.source}'")


def digest(event: LifeEvent) -> str:
    """The payload's fingerprint; the content mode (and so `datacontenttype`) does not change it."""
    # Nor does the trace context: an agency's retry may come in a new trace and is still the same event.
    body = event.envelope.model_dump(
        mode="json", exclude_none=True, exclude={"datacontenttype", TRACEPARENT, TRACESTATE}
    )
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _claim(sessions: Any, caller: AgencyCaller, events: list[LifeEvent]) -> list[str]:
    """Record each event as accepted before producing it: "new", "repeat" (same payload) or "conflict"."""
    verdicts = []
    now = datetime.now(UTC)
    with sessions.begin() as session:
        for event in events:
            env = event.envelope
            fingerprint = digest(event)
            existing = session.get(IngestedEventRow, (env.source, env.id))
            if existing is None:
                try:
                    with session.begin_nested():
                        session.add(
                            IngestedEventRow(
                                source=env.source,
                                event_id=env.id,
                                type=env.type,
                                key_id=caller.key_id,
                                digest=fingerprint,
                                accepted_at=now,
                            )
                        )
                    verdicts.append("new")
                    continue
                except IntegrityError:  # a concurrent request claimed it first
                    existing = _reread(session, env.source, env.id)
            verdicts.append("repeat" if existing is not None and existing.digest == fingerprint else "conflict")
    return verdicts


def _reread(session: Session, source: str, event_id: str) -> IngestedEventRow | None:
    return session.scalars(
        select(IngestedEventRow).where(IngestedEventRow.source == source, IngestedEventRow.event_id == event_id)
    ).first()


async def _produce_all(intake: Intake, fresh: list[tuple[Outcome, LifeEvent]]) -> None:
    """Structured mode on Kafka, keyed by household; awaited so 202 means the broker has it."""
    # Bounded: with the broker gone aiokafka retries past any client's patience; the agency gets a prompt 503.
    # A record still queued may reach the log later: the retry then duplicates it, and the worker skips the copy.
    wait = intake.produce_timeout_seconds
    results = await asyncio.gather(
        *(
            asyncio.wait_for(
                intake.producer.send_and_wait(
                    LIFE_EVENTS,
                    value=event.envelope.to_structured(),
                    key=partition_key(event).encode(),
                    headers=[
                        ("content-type", STRUCTURED_CONTENT_TYPE.encode()),
                        *(outcome.onward.headers() if outcome.onward else ()),  # the trace goes on in the worker
                    ],
                ),
                wait,
            )
            for outcome, event in fresh
        ),
        return_exceptions=True,
    )
    failed = [(o, e) for (o, e), r in zip(fresh, results, strict=True) if isinstance(r, BaseException)]
    if failed:
        # Unclaim, so the agency's retry is taken as new rather than answered as already accepted.
        await run_in_threadpool(_unclaim, intake.sessions, [e for _, e in failed])
        for outcome, _ in failed:
            outcome.status = 503
            outcome.refusal = problem(
                503,
                "Service unavailable",
                "the event log is unavailable; retry later",
                "unavailable",
                headers={"Retry-After": str(math.ceil(wait))},
            )
    for outcome, _ in fresh:
        if outcome.refusal is None:
            metrics.API_EVENTS_ACCEPTED.inc()


def _unclaim(sessions: Any, events: list[LifeEvent]) -> None:
    with sessions.begin() as session:
        for event in events:
            session.execute(
                delete(IngestedEventRow).where(
                    IngestedEventRow.source == event.envelope.source, IngestedEventRow.event_id == event.envelope.id
                )
            )


async def _allowance(intake: Intake, caller: AgencyCaller, events: int) -> Allowance:
    return await run_in_threadpool(intake.limiter.take, caller.key_id, caller.rate_per_minute, events)


def _rate_problem(caller: AgencyCaller, allowance: Allowance, per_event: bool = False) -> JSONResponse:
    detail = f"agency '{caller.agency}' is limited to {caller.rate_per_minute} events a minute"
    if per_event:
        detail += f"; this batch may send {allowance.granted} of its events now"
    response = problem(429, "Too many events", detail, "rate-limited", retry_after=allowance.retry_after)
    response.headers["Retry-After"] = str(allowance.retry_after)
    return response


async def _body_within(request: Request, limit: int) -> bytes | JSONResponse:
    declared = request.headers.get("content-length")
    too_large = problem(413, "Body too large", f"the body exceeds {limit} bytes", "too-large")
    if declared and declared.isdigit() and int(declared) > limit:
        return _refused(too_large)
    # A chunked upload has no Content-Length to trust: stop reading as soon as it grows past the limit.
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return _refused(too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def _refused(response: JSONResponse) -> JSONResponse:
    metrics.API_EVENTS_REFUSED.labels(status=str(response.status_code)).inc()
    return response


def _parse(request: Request, body: bytes) -> CloudEvent:
    for name, value in request.headers.items():
        # Structured mode ignores ce- headers, binary mode makes them attributes: neither may carry an RRN.
        if name.startswith("ce-") and (looks_like_rrn(name) or looks_like_rrn(value)):
            raise InvalidEvent(
                "a ce- header holds a resident registration number; it is accepted only in an 'rrn' field of data",
                [FieldError("ce-*" if looks_like_rrn(name) else name, "resident registration number")],
                status=422,
            )
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(STRUCTURED_CONTENT_TYPE):
        return parse_structured(body)
    if "ce-specversion" in request.headers:
        return parse_binary(request.headers.items(), body, prefix="ce-")
    if content_type.startswith("application/json"):
        raise InvalidEvent(
            "binary mode needs ce-specversion, ce-id, ce-source and ce-type headers; "
            f"structured mode needs Content-Type: {STRUCTURED_CONTENT_TYPE}",
            [FieldError("ce-specversion", "header missing")],
        )
    raise InvalidEvent(
        f"unsupported content type '{content_type}'", [FieldError("content-type", "unsupported")], status=415
    )
