"""Anchors of the audit chain: its head (entry id and hash), signed with Ed25519, kept outside the database.

The hash chain alone shows an edited, inserted or removed entry, but not a removed tail nor a chain recomputed
from an edited entry onwards: anyone who can write the table can do both. An anchor pins the head as it was
when it was written; `beforeservice audit verify` then finds every anchored entry in the table with the anchored
hash. Forging an anchor needs the signing key (`AUDIT_ANCHOR_KEY`), which only the API and `audit anchor` hold;
checking one needs the public key only (`AUDIT_ANCHOR_PUBLIC_KEYS`), so auditors verify without the power to forge.

Anchors go to an append-only JSON-lines file (`AUDIT_ANCHOR_FILE`, by default `DATA_DIR/audit-anchors.jsonl`)
and, when `AUDIT_ANCHOR_SYSLOG` is set, to syslog as well: a copy on another machine or on WORM storage is what
makes the anchors outlive an intruder on this one (docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import json
import logging
import logging.handlers
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from beforeservice.settings import Settings

log = logging.getLogger(__name__)
ANCHOR_FILE_NAME = "audit-anchors.jsonl"
FORMAT = 1
# Public, so worthless as a secret: it only lets development and the demo run without configuration.
DEV_ANCHOR_KEY = base64.b64encode(hashlib.sha256(b"beforeservice dev-only audit anchor key").digest()).decode()


class AnchorKeyError(ValueError):
    """An anchor key setting is not a base64-encoded 32-byte Ed25519 key."""


def _key_bytes(text: str, setting: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip().replace("-", "+").replace("_", "/") + "=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise AnchorKeyError(f"{setting}: not base64") from exc
    if len(raw) != 32:
        raise AnchorKeyError(f"{setting}: an Ed25519 key is 32 bytes, this one is {len(raw)}")
    return raw


def _public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short name for a public key, written in each anchor so a verifier knows which key to try."""
    return hashlib.sha256(_public_bytes(key)).hexdigest()[:16]


def encode_public_key(key: Ed25519PublicKey) -> str:
    return base64.b64encode(_public_bytes(key)).decode()


def new_signing_key() -> str:
    """A fresh AUDIT_ANCHOR_KEY (base64 of the 32-byte private key)."""
    return base64.b64encode(os.urandom(32)).decode()


@dataclass(frozen=True)
class Anchor:
    seq: int  # id of the anchored entry
    hash: str  # its hash, which covers every entry before it
    at: str  # when it was anchored (UTC, ISO 8601)
    key: str  # key_id of the signing key
    signature: str = ""  # base64 Ed25519 signature of `signed_bytes()`

    def signed_bytes(self) -> bytes:
        body = {"v": FORMAT, "seq": self.seq, "hash": self.hash, "at": self.at, "key": self.key}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def line(self) -> str:
        body = {"v": FORMAT, "seq": self.seq, "hash": self.hash, "at": self.at, "key": self.key, "sig": self.signature}
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    @classmethod
    def parse(cls, line: str) -> Anchor:
        body = json.loads(line)
        if not isinstance(body, dict) or body.get("v") != FORMAT:
            raise ValueError("not an anchor of format 1")
        seq, digest, at, key, sig = (body.get(k) for k in ("seq", "hash", "at", "key", "sig"))
        if not (isinstance(seq, int) and all(isinstance(v, str) for v in (digest, at, key, sig))):
            raise ValueError("an anchor needs seq (integer), hash, at, key and sig (strings)")
        return cls(seq, str(digest), str(at), str(key), str(sig))


class AnchorSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public = private_key.public_key()
        self.key_id = key_id(self.public)

    @classmethod
    def from_setting(cls, text: str, setting: str = "AUDIT_ANCHOR_KEY") -> AnchorSigner:
        return cls(Ed25519PrivateKey.from_private_bytes(_key_bytes(text, setting)))

    def sign(self, seq: int, digest: str, at: datetime | None = None) -> Anchor:
        when = (at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        unsigned = Anchor(seq, digest, when, self.key_id)
        signature = base64.b64encode(self._private.sign(unsigned.signed_bytes())).decode()
        return Anchor(seq, digest, when, self.key_id, signature)


class AnchorVerifier:
    """Checks anchors against the public keys it trusts (the current one and any earlier, after a rotation)."""

    def __init__(self, keys: Iterable[Ed25519PublicKey]) -> None:
        self._keys = {key_id(k): k for k in keys}

    @classmethod
    def from_settings(cls, settings: Settings) -> AnchorVerifier:
        keys = [
            Ed25519PublicKey.from_public_bytes(_key_bytes(text, "AUDIT_ANCHOR_PUBLIC_KEYS"))
            for text in settings.audit_anchor_public_keys.split(",")
            if text.strip()
        ]
        if settings.audit_anchor_key.strip() or not keys:
            keys.append(signer(settings).public)
        return cls(keys)

    def problem(self, anchor: Anchor) -> str | None:
        """Why this anchor cannot be trusted, or None when its signature holds."""
        public = self._keys.get(anchor.key)
        if public is None:
            return f"signed with key {anchor.key}, which is not a trusted anchor key"
        try:
            public.verify(base64.b64decode(anchor.signature), anchor.signed_bytes())
        except (InvalidSignature, binascii.Error, ValueError):
            return "its signature does not hold (forged or altered)"
        return None


@dataclass(frozen=True)
class StoredLine:
    number: int
    anchor: Anchor | None
    problem: str | None = None


class AnchorFile:
    """An append-only JSON-lines file: opened O_APPEND, one locked write and an fsync per anchor."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, anchor: Anchor) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # processes writing at once never interleave their lines
            os.write(fd, (anchor.line() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)  # closing releases the lock

    def read(self) -> list[StoredLine]:
        if not self.path.exists():
            return []
        lines = []
        with self.path.open(encoding="utf-8", errors="replace") as f:
            for number, text in enumerate(f, start=1):
                if not text.strip():
                    continue
                try:
                    lines.append(StoredLine(number, Anchor.parse(text)))
                except (ValueError, TypeError) as exc:
                    lines.append(StoredLine(number, None, f"unreadable ({exc})"))
        return lines


def _syslog(address: str) -> logging.Handler:
    """`udp://host:port`, `tcp://host:port` or a Unix socket path such as /dev/log."""
    if address.startswith(("udp://", "tcp://")):
        host, _, port = address[6:].rpartition(":")
        kind = socket.SOCK_DGRAM if address.startswith("udp") else socket.SOCK_STREAM
        handler: logging.Handler = logging.handlers.SysLogHandler(
            (host.strip("[]"), int(port)), facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV, socktype=kind
        )
    else:
        handler = logging.handlers.SysLogHandler(address, facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV)
    handler.setFormatter(logging.Formatter("beforeservice-audit-anchor: %(message)s"))
    return handler


class Anchoring:
    """Where anchors go and how often: the head is anchored whenever an append crosses a multiple of `every`."""

    def __init__(self, signer: AnchorSigner, store: AnchorFile, every: int = 1, syslog: str = "") -> None:
        self.signer = signer
        self.store = store
        self.every = max(1, every)
        self._syslog = _syslog(syslog) if syslog else None

    def due(self, previous_id: int, new_id: int) -> bool:
        return previous_id // self.every < new_id // self.every

    def anchor(self, seq: int, digest: str) -> Anchor:
        anchor = self.signer.sign(seq, digest)
        self.store.append(anchor)
        if self._syslog is not None:
            self._syslog.handle(
                logging.makeLogRecord({"msg": anchor.line(), "levelno": logging.INFO, "levelname": "INFO"})
            )
        return anchor


def anchor_file(settings: Settings) -> AnchorFile:
    return AnchorFile(Path(settings.audit_anchor_file or Path(settings.data_dir) / ANCHOR_FILE_NAME))


def signer(settings: Settings) -> AnchorSigner:
    if not settings.audit_anchor_key.strip():
        log.warning("AUDIT_ANCHOR_KEY is not set: audit anchors are signed with the public dev-only key")
        return AnchorSigner.from_setting(DEV_ANCHOR_KEY)
    return AnchorSigner.from_setting(settings.audit_anchor_key)


def anchoring(settings: Settings) -> Anchoring:
    return Anchoring(signer(settings), anchor_file(settings), settings.audit_anchor_every, settings.audit_anchor_syslog)
