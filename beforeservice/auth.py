"""Who is calling: signed bearer tokens (HS256 JWT) carrying a subject and a role; FastAPI dependencies.

Roles: citizen, agency, caseworker, supervisor, auditor. A citizen token's subject is the citizen's
pseudonymous id; every citizen route reads only that citizen's data (another id is a 404, never a 403,
so ids cannot be probed). Caseworkers and supervisors carry scopes {"agencies": [...], "municipalities": [...]}
(catalog agency ids; 시군구 code prefixes; "*" for all) and see only entitlements inside both; anything else
is a 404 too. Agencies do not hold tokens: they send an API key (X-API-Key), checked in beforeservice.console.
The FastAPI dependencies that read the caller (PrincipalDep, CitizenDep, StaffDep…) are in beforeservice.api.deps.
"""

from __future__ import annotations

import ipaddress
import time
from functools import lru_cache
from typing import Any

import jwt
from fastapi import HTTPException, Request

from beforeservice.principals import CONSOLE_ROLES as CONSOLE_ROLES  # re-exported: imported from here too
from beforeservice.principals import ROLES as ROLES
from beforeservice.principals import STAFF_ROLES as STAFF_ROLES
from beforeservice.principals import Principal as Principal
from beforeservice.settings import Settings

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


def refused(reason: str) -> HTTPException:
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
        raise refused(str(exc)) from exc
    if not isinstance(claims["iat"], int | float) or not isinstance(claims["exp"], int | float):
        raise refused("iat and exp must be numbers")
    if claims["exp"] - claims["iat"] > settings.token_ttl_seconds:
        raise refused("its lifetime is longer than this engine grants")
    if claims.get("role") not in ROLES or not isinstance(claims["sub"], str):
        raise refused("unknown role")
    return claims


def read_token(settings: Settings, token: str) -> Principal:
    """The principal a token names (as signed: console accounts are checked against the database in `principal`)."""
    claims = read_claims(settings, token)
    return Principal(claims["sub"], claims["role"], claims.get("scopes") or {})


def forwarded_client(request: Request, trusted: str) -> str | None:
    """The client's address for the audit log and login throttling: the peer's, unless the peer is one of the
    `trusted` proxies (TRUSTED_PROXIES); then X-Forwarded-For is read from the right, skipping trusted proxies,
    and the first address no trusted proxy vouches for is the client (what a client writes there itself is
    further left, never read)."""
    peer = request.client.host if request.client else None
    proxies = trusted_proxies(trusted)
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
