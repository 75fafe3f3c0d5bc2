"""The console's session: a signed, HttpOnly, SameSite=Strict cookie holding the account, the account's session
generation and a CSRF token.

The account is re-read on every request: deactivating it, resetting its password or logging out (which raises
its session generation) ends every session at once, a copied cookie included. Every form carries the CSRF token
(HTMX sends it as a header); a POST without the matching token is refused.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from beforeservice.api.deps import settings_of
from beforeservice.settings import Settings

COOKIE = "bs_console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):
    """Raised by console routes without a valid session: answered with a redirect to the login page."""


class CsrfRejected(Exception):
    """A state-changing request without the session's CSRF token."""


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.token_secret, salt="beforeservice-console-session")


def read(request: Request) -> dict[str, Any]:
    settings = settings_of(request)
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer(settings).loads(raw, max_age=settings.console_session_seconds)
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def write(response: Response, settings: Settings, data: dict[str, Any]) -> None:
    response.set_cookie(
        COOKIE,
        _serializer(settings).dumps(data),
        max_age=settings.console_session_seconds,
        httponly=True,
        samesite="strict",
        secure=settings.console_secure_cookie,
        path="/console",
    )


def clear(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/console")


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


async def check_csrf(request: Request) -> None:
    expected = read(request).get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise CsrfRejected()
