"""Who is calling: signed bearer tokens (HS256 JWT) carrying a subject and a role; FastAPI dependencies.

Roles: citizen, agency, caseworker, supervisor, auditor. A citizen token's subject is the citizen's
pseudonymous id; every citizen route reads only that citizen's data (another id is a 404, never a 403,
so ids cannot be probed). Caseworkers and supervisors carry scopes {"agencies": [...], "municipalities": [...]}
(catalog agency ids; 시군구 code prefixes; "*" for all) and see only entitlements inside both; anything else
is a 404 too. Agencies do not hold tokens: they send an API key (X-API-Key), checked in beforeservice.console.
"""

from __future__ import annotations

import ipaddress
import time
from functools import lru_cache
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from beforeservice.console.accounts import session_principal
from beforeservice.principals import CONSOLE_ROLES as CONSOLE_ROLES  # re-exported: imported from here too
from beforeservice.principals import ROLES as ROLES
from beforeservice.principals import STAFF_ROLES as STAFF_ROLES
from beforeservice.principals import Principal as Principal
from beforeservice.settings import Settings, get_settings

_bearer = HTTPBearer(auto_error=False)
CLOCK_SKEW_SECONDS = 30


def issue_token(
    settings: Settings,
    subject: str,
    role: str,
    scopes: dict[str, list[str]] | None = None,
    *,
    generation: int | None = None,
) -> str:
    """A signed token; a console account's carries its session generation (beforeservice.console.accounts)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": subject,
        "role": role,
        "scopes": scopes or {},
        "iat": now,
        "exp": now + settings.token_ttl_seconds,
    }
    if generation is not None:
        claims["gen"] = generation
    return jwt.encode(claims, settings.token_secret, algorithm="HS256")


def _refused(reason: str) -> HTTPException:
    return HTTPException(401, f"invalid token: {reason}", headers={"WWW-Authenticate": "Bearer"})


def read_claims(settings: Settings, token: str) -> dict[str, Any]:
    """The claims of a token this engine signed for this API, within the lifetime it grants; 401 otherwise."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.token_secret,
            algorithms=["HS256"],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
            leeway=CLOCK_SKEW_SECONDS,  # also bounds how far in the future `iat` may be
            options={"require": ["iss", "aud", "sub", "iat", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise _refused(str(exc)) from exc
    if not isinstance(claims["iat"], int | float) or not isinstance(claims["exp"], int | float):
        raise _refused("iat and exp must be numbers")
    if claims["exp"] - claims["iat"] > settings.token_ttl_seconds:
        raise _refused("its lifetime is longer than this engine grants")
    if claims.get("role") not in ROLES or not isinstance(claims["sub"], str):
        raise _refused("unknown role")
    return claims


def read_token(settings: Settings, token: str) -> Principal:
    """The principal a token names (as signed: console accounts are checked against the database in `principal`)."""
    claims = read_claims(settings, token)
    return Principal(claims["sub"], claims["role"], claims.get("scopes") or {})


def _settings(request: Request) -> Settings:
    return getattr(request.app.state, "settings", None) or get_settings()


def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    if credentials is None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    claims = read_claims(_settings(request), credentials.credentials)
    if claims["role"] not in CONSOLE_ROLES:
        return Principal(claims["sub"], claims["role"], claims.get("scopes") or {})
    # A console account acts as it is now: it exists, is active, the token was not revoked, and its role and
    # scopes are the database's (a deactivated account or a logout ends the token at once).
    with request.app.state.sessions() as session:
        current = session_principal(session, claims["sub"], claims.get("gen"))
    if current is None:
        raise _refused("revoked, or the account is not active")
    return current


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
    """The client's address for the audit log and login throttling: the peer's, unless the peer is one of
    TRUSTED_PROXIES; then X-Forwarded-For is read from the right, skipping trusted proxies, and the first address
    no trusted proxy vouches for is the client (what a client writes there itself is further left, never read)."""
    peer = request.client.host if request.client else None
    proxies = trusted_proxies(_settings(request).trusted_proxies)
    hop = _address(peer)
    if hop is None or not _trusted(hop, proxies):
        return peer
    forwarded = [part.strip() for value in request.headers.getlist("x-forwarded-for") for part in value.split(",")]
    for entry in reversed(forwarded):
        address = _address(entry)
        if address is None:
            break  # garbage from the client side of the chain: the last trusted hop is all we know
        hop = address
        if not _trusted(hop, proxies):
            break
    return str(hop)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_proxies(spec: str) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip())


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text) if text else None
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: tuple[Network, ...]) -> bool:
    return any(address in network for network in proxies)


def own_citizen_id(citizen_id: str, who: Principal) -> str:
    """A citizen may only name themselves; anyone else's id is answered as not found."""
    if who.subject != citizen_id:
        raise HTTPException(404, "not found")
    return citizen_id
