"""Who is calling: signed bearer tokens (HS256 JWT) carrying a subject and a role; FastAPI dependencies.

Roles: citizen, agency, caseworker, supervisor, auditor. A citizen token's subject is the citizen's
pseudonymous id; every citizen route reads only that citizen's data (another id is a 404, never a 403,
so ids cannot be probed). Caseworkers and supervisors carry scopes {"agencies": [...], "municipalities": [...]}
(catalog agency ids; 시군구 code prefixes; "*" for all) and see only entitlements inside both; anything else
is a 404 too. Agencies do not hold tokens: they send an API key (X-API-Key), checked in beforeservice.console.
"""

from __future__ import annotations

import time
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from beforeservice.principals import CONSOLE_ROLES as CONSOLE_ROLES  # re-exported: imported from here too
from beforeservice.principals import ROLES as ROLES
from beforeservice.principals import STAFF_ROLES as STAFF_ROLES
from beforeservice.principals import Principal as Principal
from beforeservice.settings import Settings, get_settings

_bearer = HTTPBearer(auto_error=False)


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


def staff(who: CurrentPrincipal) -> Principal:
    if who.role not in STAFF_ROLES:
        raise HTTPException(403, "this route is for caseworkers and supervisors")
    return who


CurrentStaff = Annotated[Principal, Depends(staff)]


def auditor(who: CurrentPrincipal) -> Principal:
    if who.role != "auditor":
        raise HTTPException(403, "this route is for auditors")
    return who


CurrentAuditor = Annotated[Principal, Depends(auditor)]


def client_ip(request: Request) -> str | None:
    """The peer address as the server saw it (a proxy in front must be configured to pass the real one)."""
    return request.client.host if request.client else None


def own_citizen_id(citizen_id: str, who: Principal) -> str:
    """A citizen may only name themselves; anyone else's id is answered as not found."""
    if who.subject != citizen_id:
        raise HTTPException(404, "not found")
    return citizen_id
