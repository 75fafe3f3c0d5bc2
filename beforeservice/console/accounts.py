"""Caseworker accounts: argon2id password hashes, scopes, and the principal an account logs in as.

An account's tokens and console sessions carry its session generation; logging out, deactivating the account and
resetting its password raise it, which ends every one of them at once. A request acts with the account's role and
scopes as they are now in the database, never as a token or cookie remembers them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from beforeservice.console.tables import CaseworkerRow
from beforeservice.principals import CONSOLE_ROLES, Principal

_hasher = PasswordHasher()
# Verifying against this when the account does not exist keeps the answer time the same (no user enumeration).
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def add_caseworker(
    session: Session,
    username: str,
    password: str,
    *,
    role: str = "caseworker",
    agencies: list[str],
    municipalities: list[str],
    display_name: str | None = None,
) -> CaseworkerRow:
    if role not in CONSOLE_ROLES:
        raise ValueError(f"role must be one of {sorted(CONSOLE_ROLES)}")
    _check_password(password)
    row = CaseworkerRow(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=_hasher.hash(password),
        agencies=agencies,
        municipalities=municipalities,
        active=True,
        created_at=datetime.now(UTC),
        session_generation=0,
    )
    session.add(row)
    return row


def authenticate(session: Session, username: str, password: str) -> CaseworkerRow | None:
    # A NUL byte cannot be stored in PostgreSQL text, so no account has one; asking would be a server error.
    row = None if "\x00" in username else session.get(CaseworkerRow, username)
    try:
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return row if row is not None and row.active else None


def active_account(session: Session, username: str) -> CaseworkerRow | None:
    row = session.get(CaseworkerRow, username)
    return row if row is not None and row.active else None


def session_principal(session: Session, username: str, generation: object) -> Principal | None:
    """Who a token or console session for `username` acts as now; None if the account is gone or inactive, or the
    session was revoked (its generation is not the account's current one)."""
    row = active_account(session, username)
    if row is None or not isinstance(generation, int) or generation != row.session_generation:
        return None
    return principal_of(row)


def revoke_sessions(session: Session, username: str) -> bool:
    """End every token and console session of the account (logout, and the changes below)."""
    row = session.get(CaseworkerRow, username, with_for_update=True)
    if row is None:
        return False
    row.session_generation += 1
    return True


def set_active(session: Session, username: str, active: bool) -> bool:
    """Deactivate (sessions end at once) or reactivate an account (it logs in afresh)."""
    row = session.get(CaseworkerRow, username, with_for_update=True)
    if row is None:
        return False
    row.active = active
    row.session_generation += 1
    return True


def reset_password(session: Session, username: str, password: str) -> bool:
    """A new password; every session opened with the old one ends."""
    _check_password(password)
    row = session.get(CaseworkerRow, username, with_for_update=True)
    if row is None:
        return False
    row.password_hash = _hasher.hash(password)
    row.session_generation += 1
    return True


def _check_password(password: str) -> None:
    if len(password) < 12:
        raise ValueError("a password needs at least 12 characters")


def principal_of(row: CaseworkerRow) -> Principal:
    return Principal(
        row.username, row.role, {"agencies": list(row.agencies), "municipalities": list(row.municipalities)}
    )


def colleagues(session: Session, who: Principal) -> list[CaseworkerRow]:
    """Active staff a case may be assigned to: caseworkers and supervisors sharing an agency with `who`."""
    rows = session.scalars(
        select(CaseworkerRow).where(CaseworkerRow.active.is_(True), CaseworkerRow.role != "auditor")
    ).all()
    mine = set(who.scopes.get("agencies", []))
    return [r for r in rows if "*" in mine or "*" in r.agencies or mine & set(r.agencies)]
