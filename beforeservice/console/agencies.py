"""Agency credentials: API keys (stored as digests) scoped to event types and `source` prefixes; rate limits.

Sources are compared on path segments, never as raw strings: a source with `.`, `..`, empty segments or percent
escapes is refused outright (it could name another agency's path once normalised), and a prefix matches whole
segments only (`/agencies/mois/registry/411` does not admit `/agencies/mois/registry/41117`).

An agency id is `name` or `name-office` (e.g. `mois-suwon`, an office of MOIS); it speaks in its namespace
`kr.go.<name>.*`, and its keys may emit only types there. `kr.go.beforeservice.*` is the engine's own.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from beforeservice.console.tables import AgencyKeyRow

KEY_PREFIX = "bsa"
INTERNAL_NAMESPACE = "beforeservice"  # the scheduler's and the engine's own events: no agency emits them
AGENCY_ID = re.compile(r"^[a-z0-9]{2,30}(-[a-z0-9]{1,30})?$")
# A type pattern: the agency's namespace, then dotted lower-case words, optionally ending in one `.*` glob.
_TYPE_PATTERN = re.compile(r"^kr\.go\.([a-z0-9]+)(\.[a-z0-9]+)*(\.\*)?$")
# A source segment: RFC 3986 unreserved characters only (no percent escapes, no `/`, `?`, `#`).
_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")


class UnsafeSource(ValueError):
    """A source (or prefix) that is not a plain absolute path of clean segments."""


def namespace_of(agency: str) -> str:
    """`mois-suwon` speaks for `mois`: its types are `kr.go.mois.*`."""
    return agency.split("-", 1)[0]


def type_namespace(event_type: str) -> str | None:
    """`kr.go.nhis.benefit.granted` -> `nhis`."""
    parts = event_type.split(".")
    return parts[2] if len(parts) > 3 and parts[:2] == ["kr", "go"] else None


def source_segments(source: str) -> tuple[str, ...]:
    """The segments of an absolute path source; raises UnsafeSource for anything a normaliser could rewrite."""
    if not source.startswith("/"):
        raise UnsafeSource("must be an absolute path starting with '/'")
    segments = source[1:].split("/")
    if segments and segments[-1] == "":
        segments.pop()  # one trailing slash: `/agencies/mois/` is `/agencies/mois`
    for segment in segments:
        if segment in ("", ".", ".."):
            raise UnsafeSource("must not contain empty, '.' or '..' segments")
        if not _SEGMENT.match(segment):
            raise UnsafeSource("segments are letters, digits and - . _ ~ only (no percent escapes)")
    return tuple(segments)


def _within(source: tuple[str, ...], prefix: tuple[str, ...]) -> bool:
    return len(source) >= len(prefix) and source[: len(prefix)] == prefix


@dataclass(frozen=True)
class AgencyCaller:
    key_id: str
    agency: str
    event_types: tuple[str, ...]
    source_prefixes: tuple[str, ...]
    rate_per_minute: int

    def may_emit_type(self, event_type: str) -> bool:
        if type_namespace(event_type) == INTERNAL_NAMESPACE:
            return False  # whatever an older key was granted
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.event_types)

    def may_use_source(self, source: str) -> bool:
        try:
            segments = source_segments(source)
        except UnsafeSource:
            return False
        return any(_prefix_covers(prefix, segments) for prefix in self.source_prefixes)


def _prefix_covers(prefix: str, source: tuple[str, ...]) -> bool:
    try:
        segments = source_segments(prefix)
    except UnsafeSource:
        return False  # a prefix stored before prefixes were checked: it admits nothing
    return bool(segments) and _within(source, segments)


def check_scope(agency: str, event_types: list[str], source_prefixes: list[str]) -> None:
    """Refuse a key scope that is too wide: raises ValueError saying what is wrong."""
    if not AGENCY_ID.match(agency):
        raise ValueError(f"agency id {agency!r}: lower-case letters and digits, optionally '-office' (e.g. mois-suwon)")
    namespace = namespace_of(agency)
    if namespace == INTERNAL_NAMESPACE:
        raise ValueError(f"'{INTERNAL_NAMESPACE}' is the engine's own namespace, not an agency")
    if not event_types or not source_prefixes:
        raise ValueError("an agency key needs at least one event type and one source prefix")
    for pattern in event_types:
        match = _TYPE_PATTERN.match(pattern)
        if not match:
            raise ValueError(
                f"event type {pattern!r}: an exact type or one ending in '.*' under kr.go.{namespace}. "
                f"(e.g. kr.go.{namespace}.*)"
            )
        if match[1] != namespace:
            raise ValueError(f"event type {pattern!r} is outside agency '{agency}''s namespace kr.go.{namespace}.")
    for prefix in source_prefixes:
        try:
            segments = source_segments(prefix)
        except UnsafeSource as exc:
            raise ValueError(
                f"source prefix {prefix!r}: {exc}; source prefixes are URI paths such as /agencies/mois/registry/"
            ) from exc
        if segments[:2] != ("agencies", namespace):
            raise ValueError(f"source prefix {prefix!r} must lie under agency '{agency}''s own /agencies/{namespace}/")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def add_agency_key(
    session: Session, agency: str, event_types: list[str], source_prefixes: list[str], rate_per_minute: int = 600
) -> tuple[AgencyKeyRow, str]:
    """A new key for `agency`; the key itself is returned once and never stored."""
    check_scope(agency, event_types, source_prefixes)
    if rate_per_minute < 1:
        raise ValueError("rate per minute must be at least 1")
    key_id = secrets.token_hex(8)
    key = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = AgencyKeyRow(
        key_id=key_id,
        agency=agency,
        key_hash=_digest(key),
        event_types=event_types,
        source_prefixes=source_prefixes,
        rate_per_minute=rate_per_minute,
        created_at=datetime.now(UTC),
        revoked_at=None,
    )
    session.add(row)
    return row, key


def list_agency_keys(session: Session) -> list[AgencyKeyRow]:
    return list(session.scalars(select(AgencyKeyRow).order_by(AgencyKeyRow.agency, AgencyKeyRow.created_at)))


def revoke_agency_key(session: Session, key_id: str) -> bool:
    row = session.get(AgencyKeyRow, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = datetime.now(UTC)
    return True


def authenticate_key(session: Session, key: str) -> AgencyCaller | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    row = session.get(AgencyKeyRow, parts[1])
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, _digest(key)):
        return None
    return AgencyCaller(row.key_id, row.agency, tuple(row.event_types), tuple(row.source_prefixes), row.rate_per_minute)
