"""The HTTP API: agencies post CloudEvents; citizens' apps read their inbox; caseworkers review. Routes stay thin.

The routes live in routers (beforeservice.api.*, beforeservice.console.*) and take what they need as dependencies
(beforeservice.api.deps); this module assembles them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from beforeservice import citizen_app
from beforeservice.api import citizens as citizen_routes
from beforeservice.api import docs as api_docs
from beforeservice.api import evaluations, inbox, service
from beforeservice.api import metrics as api_metrics
from beforeservice.api import openapi as openapi_doc
from beforeservice.api import readiness as api_readiness
from beforeservice.api.problems import problem
from beforeservice.api.request_guard import RequestGuard
from beforeservice.bootstrap import Process
from beforeservice.console import contracts_docs, ingestion, offers, review_api, web, whatif
from beforeservice.console.rate_limits import RateLimiter
from beforeservice.settings import Settings, get_settings


def _body_limit(settings: Settings) -> Callable[[str], int]:
    limits = {"/v1/events": settings.max_event_bytes, "/v1/events:batch": settings.max_batch_bytes}
    return lambda path: limits.get(path, settings.max_body_bytes)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # What the routes reach through beforeservice.api.deps: the process (one engine, the catalog watch…),
        # the producer and the rate limiter.
        process = Process(settings).with_schema()
        process.catalog()  # loaded now: a broken catalog stops the start, as in the worker
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            acks="all",
            enable_idempotence=settings.idempotent_producers,  # KAFKA_IDEMPOTENCE: tansu refuses it
            linger_ms=2,
        )
        await producer.start()
        app.state.process = process
        app.state.producer = producer
        app.state.rate_limiter = RateLimiter(process.sessions)  # shared by every API process (database)
        try:
            yield
        finally:
            await producer.stop()
            process.close()

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
    api_readiness.install(app)  # GET /readyz
    api_metrics.install(app)  # latency by route; last, so outermost

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

    app.include_router(inbox.router)
    if settings.dev_login and settings.dev_mode:  # never outside development (beforeservice.startup refuses it)
        app.include_router(service.development)
    app.include_router(service.router)

    return app
