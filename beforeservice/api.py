"""The HTTP API: agencies post CloudEvents; citizens' apps read their inbox. Routes stay thin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from beforeservice import metrics
from beforeservice.auth import CurrentCitizen, issue_token, own_citizen_id
from beforeservice.problems import invalid_event, problem
from beforeservice.settings import Settings, get_settings
from beforeservice.wiring import sessions as make_sessions
from entitlements import CATALOG_DIR
from entitlements.tables import EntitlementRow
from events.cloudevents import STRUCTURED_CONTENT_TYPE, CloudEvent, parse_binary, parse_structured
from events.contracts import LifeEvent, partition_key, validate
from events.errors import FieldError, InvalidEvent
from events.topics import LIFE_EVENTS
from notifiers.tables import NotificationRow
from rules_engine.catalog import load_catalog


class Accepted(BaseModel):
    id: str
    source: str
    type: str


class Offer(BaseModel):
    benefit_id: str
    name_ko: str
    name_en: str
    agency: str
    amount_krw: int | None
    payment: str
    deadline: date | None
    status: str
    reason_ko: str
    reason_en: str
    apply_url: str
    legal_basis: str
    source: str


class InboxEntry(BaseModel):
    id: str
    event_type: str
    title: str
    body: str
    message_ko: str
    message_en: str
    created_at: str
    offers: list[Offer]


class DevLogin(BaseModel):
    subject: str
    role: str = "citizen"
    scopes: dict[str, list[str]] = {}


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class Inbox(BaseModel):
    citizen_id: str
    notifications: list[InboxEntry]


def _sessions(request: Request) -> sessionmaker[Session]:
    return request.app.state.sessions


Sessions = Annotated[sessionmaker[Session], Depends(_sessions)]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    catalog = load_catalog(CATALOG_DIR)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=False, linger_ms=2
        )
        await producer.start()
        app.state.producer = producer
        app.state.settings = settings
        app.state.sessions = make_sessions(settings)
        try:
            yield
        finally:
            await producer.stop()

    app = FastAPI(
        title="Before Service",
        version="0.1.0",
        lifespan=lifespan,
        description="Life events in, tailored benefit offers out. Errors are RFC 9457 problem details.",
    )

    @app.exception_handler(StarletteHTTPException)
    async def _http_problem(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail), "http-error")

    @app.exception_handler(RequestValidationError)
    async def _validation_problem(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return problem(
            422, "Invalid request", errors[0]["message"] if errors else "invalid", "invalid-request", errors=errors
        )

    @app.post(
        "/v1/events",
        status_code=202,
        response_model=Accepted,
        responses={
            400: {"description": "Malformed event"},
            413: {"description": "Body too large"},
            415: {"description": "Unsupported content type"},
            422: {"description": "Event breaks its contract"},
        },
    )
    async def post_event(request: Request) -> Any:
        """Accept one CloudEvent, structured (`application/cloudevents+json`) or binary (`ce-*` headers)."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > settings.max_event_bytes:
            return _refused(
                problem(413, "Event too large", f"the body exceeds {settings.max_event_bytes} bytes", "too-large")
            )
        body = await _read_limited(request, settings.max_event_bytes)
        if body is None:
            return _refused(
                problem(413, "Event too large", f"the body exceeds {settings.max_event_bytes} bytes", "too-large")
            )
        try:
            event = validate(_parse(request, body))
        except InvalidEvent as error:
            return _refused(invalid_event(error))
        await _produce(request.app.state.producer, event)
        metrics.API_EVENTS_ACCEPTED.inc()
        return Accepted(id=event.envelope.id, source=event.envelope.source, type=event.type)

    @app.get("/v1/citizens/{citizen_id}/inbox", response_model=Inbox)
    def inbox(citizen_id: str, who: CurrentCitizen, sessions: Sessions) -> Inbox:
        """The citizen's notifications, newest first, each with its offers and the reasons for them."""
        own_citizen_id(citizen_id, who)
        with sessions() as session:
            rows = list(
                session.scalars(
                    select(NotificationRow)
                    .where(NotificationRow.recipient_id == citizen_id)
                    .order_by(NotificationRow.created_at.desc())
                    .limit(100)
                )
            )
            offer_ids = [o for row in rows for o in row.offer_ids]
            offers = {e.id: e for e in session.scalars(select(EntitlementRow).where(EntitlementRow.id.in_(offer_ids)))}
        return Inbox(
            citizen_id=citizen_id,
            notifications=[
                InboxEntry(
                    id=row.id,
                    event_type=row.event_type,
                    title=row.lock_screen_title,
                    body=row.lock_screen_body,
                    message_ko=row.message_ko,
                    message_en=row.message_en,
                    created_at=row.created_at.isoformat(),
                    offers=[_offer(offers[i]) for i in row.offer_ids if i in offers],
                )
                for row in rows
            ],
        )

    def _offer(row: EntitlementRow) -> Offer:
        benefit = catalog.benefits[row.benefit_id]
        return Offer(
            benefit_id=row.benefit_id,
            name_ko=benefit.name["ko"],
            name_en=benefit.name["en"],
            agency=benefit.agency.name["en"],
            amount_krw=row.amount_krw,
            payment=row.payment,
            deadline=row.deadline,
            status=row.status,
            reason_ko=row.reason_ko,
            reason_en=row.reason_en,
            apply_url=benefit.apply_url,
            legal_basis=benefit.legal_basis[0].ko,
            source=benefit.source,
        )

    if settings.dev_login:

        @app.post("/v1/dev/login", response_model=Token, tags=["development"])
        def dev_login(body: DevLogin) -> Token:
            """Development only (DEV_LOGIN=true): a token for any subject and role, for the demo and tests."""
            return Token(access_token=issue_token(settings, body.subject, body.role, body.scopes))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


def _refused(response: JSONResponse) -> JSONResponse:
    metrics.API_EVENTS_REFUSED.labels(status=str(response.status_code)).inc()
    return response


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it grows past `limit` (a chunked upload has no Content-Length to trust)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(request: Request, body: bytes) -> CloudEvent:
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


async def _produce(producer: AIOKafkaProducer, event: LifeEvent) -> None:
    """Structured mode on Kafka, keyed by household; awaited so 202 means the broker has it."""
    try:
        await producer.send_and_wait(
            LIFE_EVENTS,
            value=event.envelope.to_structured(),
            key=partition_key(event).encode(),
            headers=[("content-type", STRUCTURED_CONTENT_TYPE.encode())],
        )
    except Exception as exc:
        raise HTTPException(503, "the event log is unavailable; retry later") from exc
