"""Stable ids: one scheme, one namespace, a named constructor per kind of row.

An id is derived from what identifies the thing it names, never drawn at random: processing the same event, or
taking the same decision, twice yields the same id, so the second write is recognised (a key conflict, or an
`already there` check) instead of becoming a duplicate.

The scheme is uuid5 under `NAMESPACE`, of the identifying parts joined by the unit separator (U+001F).

Two kinds predate the scheme and keep their own derivation, because ids already stored in databases carry it and a
re-run must find them again (a reminder queued before must not be queued a second time, a backfill re-run must not
insert its offers again); they are derived here too, so that no other module derives ids:
- reminder notices: uuid5 under the reminders' former namespace of "recipient|event id";
- backfilled offers: the MD5 of their key as a UUID, which PostgreSQL computes in SQL (`md5()`; it has no SHA-1
  without an extension) for a set-based backfill (entitlements/persistence/sweep.py compiles it).
"""

from __future__ import annotations

import hashlib
import uuid

NAMESPACE = uuid.UUID("4f1c1d7e-5b0e-4c55-9d2b-6a1f0c2e9b31")
_NAMESPACE_BYTES = NAMESPACE.bytes
_SEPARATOR = "\x1f"

# The key a caseworker's approval is written under (notifications are unique per recipient, source and event id).
APPROVAL_SOURCE = "/beforeservice/console"
BACKFILL_SOURCE = "urn:beforeservice:backfill"


def stable_id(*parts: str) -> str:
    """uuid5(NAMESPACE, parts joined by US), spelled out: the same ids at a third of uuid.uuid5's cost."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + _SEPARATOR.join(parts).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def offer_id(event_source: str, event_id: str, benefit_id: str, beneficiary_id: str, *, correction: bool) -> str:
    """The offer a life event makes of a benefit to a beneficiary (or the correction of it a later event makes)."""
    parts = (event_source, event_id, benefit_id, beneficiary_id)
    return stable_id(*parts, "correction") if correction else stable_id(*parts)


def notification_id(event_source: str, event_id: str, recipient_id: str) -> str:
    """The one notification an event (a life event, an approval) gives a recipient."""
    return stable_id(event_source, event_id, "notification", recipient_id)


def approval_event_id(entitlement_id: str) -> str:
    """A caseworker's approval of an entitlement: an entitlement is approved at most once (pending_review is never
    re-entered), so the entitlement identifies its approval."""
    return f"approved-{entitlement_id}"


def approval_notice_id(entitlement_id: str, recipient_id: str) -> str:
    """The notice an approval gives a recipient: approving twice derives the same id."""
    return notification_id(APPROVAL_SOURCE, approval_event_id(entitlement_id), recipient_id)


def backfill_event_id(benefit_id: str, on_iso: str) -> str:
    """A backfill of one benefit on one day is one event: re-running it finds the offers it made."""
    return f"{benefit_id}/{on_iso}"


# --- kinds with their former derivation (see the module's docstring) ------------------------------------------

_REMINDER_NAMESPACE = uuid.UUID("6f1c1f4e-5b1e-4a8e-9a57-3d1c2b7e0a11")


def reminder_notice_id(recipient_id: str, reminder_event_id: str) -> str:
    """A deadline reminder to a recipient (former derivation: reminders already queued keep their id)."""
    return str(uuid.uuid5(_REMINDER_NAMESPACE, f"{recipient_id}|{reminder_event_id}"))


def backfill_key_prefix(backfill_event_id: str) -> str:
    """What precedes the beneficiary id in a backfilled offer's key (the SQL of a backfill appends the column)."""
    return f"{BACKFILL_SOURCE}{_SEPARATOR}{backfill_event_id}{_SEPARATOR}"


def md5_id(key: str) -> str:
    """The MD5 of `key` as a UUID: what PostgreSQL's `CAST(md5(key) AS UUID)` gives (the backfill's SQL)."""
    return str(uuid.UUID(hashlib.md5(key.encode("utf-8")).hexdigest()))


def backfill_offer_id(backfill_event_id: str, beneficiary_id: str) -> str:
    """An offer a backfill makes (former derivation: a re-run must find the offers it already made)."""
    return md5_id(backfill_key_prefix(backfill_event_id) + beneficiary_id)
