"""The app's session: a signed, HttpOnly cookie holding the engine's citizen access token and a CSRF token.

The token is the one the JSON API takes as a bearer (beforeservice.auth.issue_token, role citizen); the cookie
lives as long as the token. SameSite=Lax, not Strict: the way back from the identity provider is a cross-site
redirect that must carry the pending sign-in; every change is a POST that must carry the CSRF token as well.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from beforeservice.api.deps import settings_of
from beforeservice.auth import read_token
from beforeservice.citizen_app.signin import PendingSignIn
from beforeservice.settings import Settings

COOKIE = "bs_citizen"
PENDING_COOKIE = "bs_citizen_signin"
PENDING_SECONDS = 600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
PATH = "/app"


class SignInRequired(Exception):
    """No valid session: answered with a redirect to the sign-in page."""


@dataclass(frozen=True)
class CitizenSession:
    citizen_id: str
    token: str
    csrf: str


def _serializer(settings: Settings, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.token_secret, salt=salt)


def cookie_value(settings: Settings, token: str) -> str:
    """The signed session cookie for an access token, with a fresh CSRF token."""
    return _serializer(settings, "beforeservice-citizen-session").dumps({"t": token, "c": secrets.token_urlsafe(32)})


def start(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        COOKIE,
        cookie_value(settings, token),
        max_age=settings.token_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=settings.citizen_app_secure_cookie,
        path=PATH,
    )


def end(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH)


def current(request: Request) -> CitizenSession:
    settings: Settings = settings_of(request)
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise SignInRequired()
    try:
        data: Any = _serializer(settings, "beforeservice-citizen-session").loads(
            raw, max_age=settings.token_ttl_seconds
        )
        who = read_token(settings, data["t"])  # expired or foreign tokens end the session
    except (BadSignature, HTTPException, KeyError, TypeError) as exc:
        raise SignInRequired() from exc
    if who.role != "citizen":
        raise SignInRequired()
    return CitizenSession(who.subject, data["t"], data["c"])


def check_csrf(session: CitizenSession, sent: str | None) -> None:
    if not sent or not hmac.compare_digest(session.csrf, sent):
        raise HTTPException(403, "the form's security token does not match; reload the page")


def remember_pending(response: Response, settings: Settings, pending: PendingSignIn) -> None:
    value = {"s": pending.state, "n": pending.nonce, "v": pending.code_verifier}
    response.set_cookie(
        PENDING_COOKIE,
        _serializer(settings, "beforeservice-citizen-signin").dumps(value),
        max_age=PENDING_SECONDS,
        httponly=True,
        samesite="lax",
        secure=settings.citizen_app_secure_cookie,
        path=PATH,
    )


def pending_of(request: Request) -> PendingSignIn | None:
    settings: Settings = settings_of(request)
    raw = request.cookies.get(PENDING_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(settings, "beforeservice-citizen-signin").loads(raw, max_age=PENDING_SECONDS)
        return PendingSignIn(str(data["s"]), str(data["n"]), str(data["v"]))
    except (BadSignature, KeyError, TypeError):
        return None
