"""Who is calling: signed bearer tokens (HS256 JWT) carrying a subject and a role; FastAPI dependencies.

Roles: citizen, agency, caseworker, supervisor, auditor. A citizen token's subject is the citizen's
pseudonymous id; every citizen route reads only that citizen's data (another id is a 404, never a 403,
so ids cannot be probed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from beforeservice.settings import Settings, get_settings

ROLES = frozenset({"citizen", "agency", "caseworker", "supervisor", "auditor"})
_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    scopes: dict[str, list[str]] = field(default_factory=dict)  # e.g. {"municipalities": ["41110"]}


def issue_token(settings: Settings, subject: str, role: str, scopes: dict[str, list[str]] | None = None) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    now = int(time.time())
    claims = {"sub": subject, "role": role, "scopes": scopes or {}, "iat": now, "exp": now + settings.token_ttl_seconds}
    return jwt.encode(claims, settings.token_secret, algorithm="HS256")


def read_token(settings: Settings, token: str) -> Principal:
    try:
        claims = jwt.decode(token, settings.token_secret, algorithms=["HS256"], options={"require": ["sub", "exp"]})
    except jwt.PyJWTError as exc:
        raise HTTPException(401, f"invalid token: {exc}", headers={"WWW-Authenticate": "Bearer"}) from exc
    if claims.get("role") not in ROLES:
        raise HTTPException(401, "invalid token: unknown role", headers={"WWW-Authenticate": "Bearer"})
    return Principal(claims["sub"], claims["role"], claims.get("scopes") or {})


def _settings(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or get_settings()


def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return read_token(_settings(request), credentials.credentials)


CurrentPrincipal = Annotated[Principal, Depends(principal)]


def citizen(who: CurrentPrincipal) -> Principal:
    if who.role != "citizen":
        raise HTTPException(403, "this route is for citizens")
    return who


CurrentCitizen = Annotated[Principal, Depends(citizen)]


def own_citizen_id(citizen_id: str, who: Principal) -> str:
    """A citizen may only name themselves; anyone else's id is answered as not found."""
    if who.subject != citizen_id:
        raise HTTPException(404, "not found")
    return citizen_id
