"""Sealing personal data at rest: AES-256-GCM under named keys, one of them active (key rotation).

Pure: no database here (the SQLAlchemy column types are in entitlements/persistence/sealed_columns.py).

A sealed value is text, so it fits a Text column on SQLite and PostgreSQL alike::

    v1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>

- ``v1`` is the format version; ``kid`` names the key that sealed it, so any key of the ring opens it and a
  rotation knows what is not yet under the active key;
- the nonce is 96 random bits, fresh for every value (never reused under one key: 2^32 values per key keep the
  collision chance far below 2^-32);
- the associated data binds the header and the *context* (the column, e.g. ``entitlements.reason_ko``): a value
  copied into another column, or under another key id, does not open.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
PREFIX = VERSION + "."
KEY_BYTES = 32
NONCE_BYTES = 12
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
DEV_KEY_ID = "dev"
DEV_DATA_KEYS = "dev:" + base64.urlsafe_b64encode(hashlib.sha256(b"beforeservice dev-only data key").digest()).decode()


class SealingError(ValueError):
    """A value cannot be sealed or opened (bad key, tampering, wrong column, unknown key id, not sealed)."""


class UnknownKeyError(SealingError):
    def __init__(self, kid: str, context: str) -> None:
        super().__init__(
            f"{context}: sealed under key id {kid!r}, which is not in DATA_KEYS "
            "(keep an old key until `beforeservice keys rotate` has re-sealed everything under the active one)"
        )
        self.kid = kid
        self.context = context


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Keyring:
    """Named 256-bit keys; ``active`` seals, any of them opens."""

    def __init__(self, keys: Mapping[str, bytes], active: str) -> None:
        if not keys:
            raise SealingError("a keyring needs at least one key")
        for kid, key in keys.items():
            if not _KID.match(kid):
                raise SealingError(f"key id {kid!r}: use 1-32 letters, digits, '_' or '-'")
            if len(key) != KEY_BYTES:
                raise SealingError(f"key {kid!r}: {len(key)} bytes, AES-256 needs {KEY_BYTES}")
        if active not in keys:
            raise SealingError(f"the active key {active!r} is not in the keyring")
        self.active = active
        self.kids = tuple(keys)
        self._aead = {kid: AESGCM(key) for kid, key in keys.items()}
        self._headers = {kid: f"{PREFIX}{kid}." for kid in keys}
        # seal() is on the pipeline's hot path (three values per offer): what it needs, looked up once.
        self._seal_aead = self._aead[active]
        self._seal_header = self._headers[active]
        self._seal_aad = self._seal_header.encode()

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """``"k2:<base64 of 32 bytes>,k1:<...>"``: the first key is the active one."""
        keys: dict[str, bytes] = {}
        for entry in (e.strip() for e in spec.split(",")):
            if not entry:
                continue
            kid, sep, encoded = entry.partition(":")
            kid = kid.strip()
            if not sep:
                raise SealingError(f"DATA_KEYS entry {kid[:8]!r}…: expected '<key id>:<base64 key>'")
            if kid in keys:
                raise SealingError(f"DATA_KEYS: key id {kid!r} appears twice")
            try:
                keys[kid] = _b64decode(encoded.strip().replace("+", "-").replace("/", "_").rstrip("="))
            except ValueError as exc:
                raise SealingError(f"DATA_KEYS: key {kid!r} is not base64") from exc
        if not keys:
            raise SealingError("DATA_KEYS is empty")
        return cls(keys, next(iter(keys)))

    def header_of(self, kid: str) -> str:
        """The text every value sealed under `kid` starts with (for SQL: what is not yet under the active key)."""
        return f"{PREFIX}{kid}."

    def seal(self, plaintext: bytes, context: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._seal_aead.encrypt(nonce, plaintext, self._seal_aad + context)
        return self._seal_header + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()

    def open(self, value: str, context: bytes) -> bytes:
        version, kid, body = _split(value, context)
        aead = self._aead.get(kid)
        if aead is None:
            raise UnknownKeyError(kid, context.decode(errors="replace"))
        try:
            raw = _b64decode(body)
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"{version}.{kid}.".encode() + context)
        except (InvalidTag, ValueError) as exc:
            raise SealingError(
                f"{context.decode(errors='replace')}: the value sealed under key id {kid!r} does not open "
                "(tampered with, truncated, or moved from another column)"
            ) from exc

    def is_current(self, value: str) -> bool:
        """Sealed under the active key (nothing for a rotation to do)."""
        return value.startswith(self._headers[self.active])


def key_id_of(value: str) -> str | None:
    """The key id of a sealed value; None if the value is not sealed."""
    if not value.startswith(PREFIX):
        return None
    kid, dot, _ = value[len(PREFIX) :].partition(".")
    return kid if dot else None


def _split(value: str, context: bytes) -> tuple[str, str, str]:
    version, _, rest = value.partition(".")
    kid, dot, body = rest.partition(".")
    if version != VERSION or not dot or not kid:
        shown = "a sealed value of an unknown format" if version.startswith("v") else "a value that is not sealed"
        raise SealingError(f"{context.decode(errors='replace')}: {shown} (expected '{PREFIX}<key id>.<data>')")
    return version, kid, body


def new_key_entry(kid: str) -> str:
    """A fresh DATA_KEYS entry: ``<kid>:<base64url of 32 random bytes>``."""
    if not _KID.match(kid):
        raise SealingError(f"key id {kid!r}: use 1-32 letters, digits, '_' or '-'")
    return f"{kid}:{base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()}"
