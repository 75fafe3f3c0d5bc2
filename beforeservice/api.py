"""The HTTP API: agencies post CloudEvents; citizens' apps read their inbox; caseworkers review. Routes stay thin.

The routes live in routers (beforeservice.console.*, beforeservice.citizen_routes); this module assembles them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from beforeservice import api_docs, citizen_app, citizen_routes, evaluations, openapi_doc
from beforeservice.auth import CurrentCitizen, issue_token, own_citizen_id
from beforeservice.console import contracts_docs, ingestion, offers, review_api, web, whatif
from beforeservice.console.offers import OfferExplanation
from beforeservice.console.rate_limits import RateLimiter
from beforeservice.inbox import visible_notifications
from beforeservice.problems import problem
from beforeservice.request_guard import RequestGuard
from beforeservice.settings import Settings, get_settings
from beforeservice.wiring import pseudonymizer
from beforeservice.wiring import sessions as make_sessions
from entitlements.tables import EntitlementRow
from rules_engine.catalog import load_catalog


class Offer(OfferExplanation):
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


def _body_limit(settings: Settings) -> Callable[[str], int]:
    limits = {"/v1/events": settings.max_event_bytes, "/v1/events:batch": settings.max_batch_bytes}
    return lambda path: limits.get(path, settings.max_body_bytes)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    catalog = load_catalog(settings.catalog_directory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers, acks="all", enable_idempotence=False, linger_ms=2
        )
        await producer.start()
        app.state.producer = producer
        app.state.settings = settings
        app.state.sessions = make_sessions(settings)
        app.state.catalog = catalog
        app.state.rate_limiter = RateLimiter(app.state.sessions)  # shared by every API process (database)
        app.state.pseudonymizer = pseudonymizer(settings)
        try:
            yield
        finally:
            await producer.stop()

    app = FastAPI(
        title="Before Service",
        version="0.1.0",
        lifespan=lifespan,
        description="Life events in, tailored benefit offers out. Errors are RFC 9457 problem details.",
        docs_url=None,  # served from vendored files (api_docs), not FastAPI's CDN pages
        redoc_url=None,
    )

    app.include_router(citizen_routes.router)
    app.include_router(ingestion.router)
    app.include_router(contracts_docs.router)
    app.include_router(offers.router)
    app.include_router(review_api.router)
    app.include_router(evaluations.router)
    app.include_router(whatif.router)
    web.install(app)
    citizen_app.install(app, push=bool(settings.firebase_web_config))  # the citizens' app at /app
    app.add_middleware(RequestGuard, limit_for=_body_limit(settings))
    openapi_doc.install(app)
    api_docs.install(app)

    @app.exception_handler(StarletteHTTPException)
    async def _http_problem(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Keep what the exception says about the next step: WWW-Authenticate (401), Allow (405), Retry-After.
        return problem(exc.status_code, str(exc.detail), str(exc.detail), "http-error", headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_problem(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return problem(
            422, "Invalid request", errors[0]["message"] if errors else "invalid", "invalid-request", errors=errors
        )

    cooling_off = timedelta(hours=settings.bereavement_cooling_off_hours)

    @app.get("/v1/citizens/{citizen_id}/inbox", response_model=Inbox)
    def inbox(citizen_id: str, who: CurrentCitizen, sessions: Sessions) -> Inbox:
        """The citizen's notifications, newest first, each with its offers and the reasons for them."""
        own_citizen_id(citizen_id, who)
        with sessions() as session:
            rows = visible_notifications(session, citizen_id, datetime.now(UTC), cooling_off)
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
        return Offer.of(
            row,
            benefit,
            "en",
            apply_url=benefit.apply_url,
            legal_basis=benefit.legal_basis[0].ko,
            source=benefit.source,
        )

    if settings.dev_login and settings.dev_mode:  # never outside development (beforeservice.startup refuses it)

        @app.post("/v1/dev/login", response_model=Token, tags=["development"])
        def dev_login(body: DevLogin) -> Token:
            """Development only (DEV_MODE and DEV_LOGIN true): a token for any subject and role, for the demo."""
            return Token(access_token=issue_token(settings, body.subject, body.role, body.scopes))

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
