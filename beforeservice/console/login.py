"""Logging in to a console account, by the console's form or POST /v1/caseworkers/token: throttled across API
processes, and on the audit log — failures, lock-outs, refusals while locked, sessions and tokens issued."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from beforeservice.console.accounts import authenticate
from beforeservice.console.audit import AuditEntry, AuditTransaction, append
from beforeservice.console.login_throttle import LoginThrottle
from beforeservice.console.tables import CaseworkerRow
from beforeservice.settings import Settings

SUCCESS = {"console": "console.login", "api": "auth.token.issued"}


@dataclass(frozen=True)
class LoginOutcome:
    account: CaseworkerRow | None  # None: refused
    retry_after: int | None = None  # set when refused because the account or the address is locked


def log_in(
    sessions: sessionmaker[Session], settings: Settings, username: str, password: str, address: str | None, channel: str
) -> LoginOutcome:
    throttle = LoginThrottle.of(settings)
    shown = _shown(username)
    with sessions.begin() as session:
        admission = throttle.admit(session, username, address, datetime.now(UTC))
    if admission.retry_after is not None:
        detail = {"channel": channel, "retry_after": admission.retry_after}
        _record(sessions, AuditEntry(shown, "unknown", address, "auth.login.throttled", "auth", detail=detail))
        return LoginOutcome(None, admission.retry_after)
    with sessions() as session:
        account = authenticate(session, username, password)
    with AuditTransaction(sessions()) as session:
        if account is None:
            append(
                session, AuditEntry(shown, "unknown", address, "auth.login.failed", "auth", detail={"channel": channel})
            )
            if admission.last_for:
                detail = {
                    "channel": channel,
                    "locked": list(admission.last_for),
                    "seconds": settings.login_window_seconds,
                }
                append(session, AuditEntry(shown, "unknown", address, "auth.lockout", "auth", detail=detail))
        else:
            throttle.succeeded(session, username, address)
            detail = {"session_generation": account.session_generation}
            append(
                session, AuditEntry(account.username, account.role, address, SUCCESS[channel], "auth", detail=detail)
            )
    return LoginOutcome(account)


def _record(sessions: sessionmaker[Session], entry: AuditEntry) -> None:
    with AuditTransaction(sessions()) as session:
        append(session, entry)


def _shown(username: str) -> str:
    """A typed username as the audit log may keep it: word characters only, at most 64."""
    return re.sub(r"[^\w.\-@]", "?", username)[:64] or "?"
