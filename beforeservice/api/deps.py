"""What a route needs, declared in its signature (`Annotated` dependencies, as in the FastAPI full-stack template).

The app's lifespan puts three things on `app.state`: the process (beforeservice.bootstrap.Process: settings, the
one engine's sessions, the catalog watch, the pseudonymizer), the Kafka producer and the rate limiter. This module
is the only one that reads them. Routes take `SessionsDep`, `CatalogDep`, `SettingsDep`, `PrincipalDep`…;
helpers that already hold the request (audit entries, the console's pages) use the `…_of(request)` accessors.
Tests replace a dependency with `app.dependency_overrides[get_sessions] = …`.
"""

from __future__ import annotations

from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from beforeservice import settings as settings_module
from beforeservice.auth import CONSOLE_ROLES, STAFF_ROLES, Principal, forwarded_client, read_claims, refused
from beforeservice.bootstrap import Process
from beforeservice.console.accounts import session_principal
from beforeservice.console.rate_limits import RateLimiter
from beforeservice.settings import Settings
from events.privacy import Pseudonymizer
from rules_engine.catalog import Catalog

# --- the app's state, read here only -------------------------------------------------------------------------


def process_of(request: Request) -> Process:
    process: Process = request.app.state.process
    return process


def settings_of(request: Request) -> Settings:
    """The process's settings (a router mounted on a bare app, as some tests do, reads the environment's)."""
    process: Process | None = getattr(request.app.state, "process", None)
    return process.settings if process is not None else settings_module.get_settings()


def sessions_of(request: Request) -> sessionmaker[Session]:
    return process_of(request).sessions


def catalog_of(request: Request) -> Catalog:
    """The catalog in force now: the API watches the catalog's files as the worker does."""
    return process_of(request).catalog()


def client_ip(request: Request) -> str | None:
    """The client's address for the audit log and login throttling (beforeservice.auth.forwarded_client)."""
    return forwarded_client(request, settings_of(request).trusted_proxies)


# --- dependencies --------------------------------------------------------------------------------------------
# `async` where nothing blocks: FastAPI runs a plain `def` dependency in the thread pool, a hop per request. The
# catalog's may stat its files (CatalogWatch), so it stays a `def`.


async def get_settings(request: Request) -> Settings:
    return settings_of(request)


async def get_sessions(request: Request) -> sessionmaker[Session]:
    return sessions_of(request)


def get_catalog(request: Request) -> Catalog:
    return catalog_of(request)


async def get_pseudonymizer(request: Request) -> Pseudonymizer:
    return process_of(request).pseudonymizer


async def get_producer(request: Request) -> AIOKafkaProducer:
    producer: AIOKafkaProducer = request.app.state.producer
    return producer


async def get_rate_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.rate_limiter
    return limiter


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
PseudonymizerDep = Annotated[Pseudonymizer, Depends(get_pseudonymizer)]
ProducerDep = Annotated[AIOKafkaProducer, Depends(get_producer)]
RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]

# --- who is calling ------------------------------------------------------------------------------------------

_bearer = HTTPBearer(auto_error=False)


def principal(
    settings: SettingsDep,
    sessions: SessionsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    claims = read_claims(settings, credentials.credentials)
    if claims["role"] not in CONSOLE_ROLES:
        return Principal(claims["sub"], claims["role"], claims.get("scopes") or {})
    # A console account acts as it is now: it exists, is active, the token was not revoked, and its role and
    # scopes are the database's (a deactivated account or a logout ends the token at once).
    with sessions() as session:
        current = session_principal(session, claims["sub"], claims.get("gen"))
    if current is None:
        raise refused("revoked, or the account is not active")
    return current


PrincipalDep = Annotated[Principal, Depends(principal)]


def citizen(who: PrincipalDep) -> Principal:
    if who.role != "citizen":
        raise HTTPException(403, "this route is for citizens")
    return who


CitizenDep = Annotated[Principal, Depends(citizen)]


def staff(who: PrincipalDep) -> Principal:
    if who.role not in STAFF_ROLES:
        raise HTTPException(403, "this route is for caseworkers and supervisors")
    return who


StaffDep = Annotated[Principal, Depends(staff)]


def auditor(who: PrincipalDep) -> Principal:
    if who.role != "auditor":
        raise HTTPException(403, "this route is for auditors")
    return who


AuditorDep = Annotated[Principal, Depends(auditor)]
