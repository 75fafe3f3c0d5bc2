"""What every engine process checks before it starts: strong secrets outside development mode, private files.

The check runs in the entry points (`beforeservice api|worker|dispatcher|scheduler|up|demo` and the commands that
seal or pseudonymise), not in `Settings`: unit tests and tools build `Settings()` freely, while nothing that
serves, signs or stores can start on the public development values unless DEV_MODE=true says so out loud.
"""

from __future__ import annotations

import base64
import logging
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from beforeservice.console.audit_anchors import DEV_ANCHOR_KEY
from beforeservice.settings import DEV_PSEUDONYM_KEY, DEV_TOKEN_SECRET, Settings
from entitlements.persistence.sealing import DEV_DATA_KEYS, Keyring, SealingError

log = logging.getLogger(__name__)

TOKEN_SECRET = "TOKEN_SECRET"
PSEUDONYM_KEY = "PSEUDONYM_KEY"
DATA_KEYS = "DATA_KEYS"
AUDIT_ANCHOR_KEY = "AUDIT_ANCHOR_KEY"
ALL_SECRETS = (TOKEN_SECRET, PSEUDONYM_KEY, DATA_KEYS, AUDIT_ANCHOR_KEY)
MIN_SECRET_BYTES = 32
_PUBLIC_SECRETS = frozenset({DEV_TOKEN_SECRET, DEV_PSEUDONYM_KEY})
_GENERATE = "e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'"


class UnsafeConfiguration(Exception):
    """The process would run on secrets anyone can read in the source (or none at all)."""


def secret_problems(settings: Settings, needs: Iterable[str] = ALL_SECRETS) -> list[str]:
    """What is wrong with the secrets `needs` names (empty when they are all strong), and DEV_LOGIN."""
    wanted = set(needs)
    problems = []
    if TOKEN_SECRET in wanted:
        problems += _hmac_key_problems(TOKEN_SECRET, settings.token_secret)
    if PSEUDONYM_KEY in wanted:
        problems += _hmac_key_problems(PSEUDONYM_KEY, settings.pseudonym_key)
    if DATA_KEYS in wanted:
        problems += _data_keys_problems(settings.data_keys)
    if AUDIT_ANCHOR_KEY in wanted:
        problems += _anchor_key_problems(settings.audit_anchor_key)
    if settings.dev_login:
        problems.append("DEV_LOGIN=true mints a token for anyone: it is allowed only with DEV_MODE=true")
    return problems


def _hmac_key_problems(name: str, value: str) -> list[str]:
    if not value:
        return [f"{name} is not set: set a random secret of at least {MIN_SECRET_BYTES} bytes ({_GENERATE})"]
    if value in _PUBLIC_SECRETS:
        return [f"{name} is the public development value: set a random secret of its own ({_GENERATE})"]
    if len(value.encode()) < MIN_SECRET_BYTES:
        return [f"{name} is too short ({len(value.encode())} bytes): use at least {MIN_SECRET_BYTES} ({_GENERATE})"]
    return []


def _data_keys_problems(spec: str) -> list[str]:
    if not spec.strip():
        return [
            "DATA_KEYS is not set: personal data would be sealed with the public dev-only key "
            "(create one with `beforeservice keys generate`; docs/privacy.md)"
        ]
    try:
        Keyring.parse(spec)
    except SealingError as exc:
        return [f"DATA_KEYS is not valid: {exc}"]
    if _key_bytes(DEV_DATA_KEYS) in {_key_bytes(entry) for entry in spec.split(",") if entry.strip()}:
        return ["DATA_KEYS contains the public dev-only key: create one with `beforeservice keys generate`"]
    return []


def _anchor_key_problems(key: str) -> list[str]:
    # Anyone holding the public dev key could re-sign a truncated or re-hashed audit chain (docs/security.md).
    if not key.strip():
        return [
            "AUDIT_ANCHOR_KEY is not set: the audit log's anchors would be signed with the public dev-only key "
            "(create one with `beforeservice audit keygen`)"
        ]
    if key.strip() == DEV_ANCHOR_KEY:
        return ["AUDIT_ANCHOR_KEY is the public dev-only key: create one with `beforeservice audit keygen`"]
    return []


def _key_bytes(entry: str) -> bytes:
    encoded = entry.partition(":")[2].strip().replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


def check_secrets(settings: Settings, needs: Iterable[str] = ALL_SECRETS) -> None:
    """Refuse weak secrets outside DEV_MODE; in DEV_MODE, say loudly which public values are in use."""
    wanted = tuple(needs)
    if settings.dev_mode:
        weak = [p.split(" ", 1)[0] for p in secret_problems(settings.model_copy(update={"dev_login": False}), wanted)]
        if weak:
            _shout(
                f"DEV_MODE=true: running on PUBLIC development secrets ({', '.join(weak)}). Anyone can read "
                "or forge what they protect: never use this with real data."
            )
        else:
            _shout("DEV_MODE=true: development mode (DEV_LOGIN and the public dev secrets are allowed)")
        return
    problems = secret_problems(settings, wanted)
    if problems:
        raise UnsafeConfiguration(
            "refusing to start outside DEV_MODE:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\n(for local development only: DEV_MODE=true)"
        )


def _shout(message: str) -> None:
    line = "!" * 100
    print(f"{line}\n!! WARNING {message}\n{line}", file=sys.stderr, flush=True)


def private_files(data_dir: str | None) -> None:
    """Everything this process (and its children) creates is readable by its own user only; DATA_DIR too."""
    os.umask(0o077)
    if data_dir is None:
        return
    directory = Path(data_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        # Not changed here: DATA_DIR may be a directory others rely on (say, /tmp).
        log.warning("DATA_DIR %s is readable by other users: chmod 700 it", directory)


def start(
    settings: Settings, needs: Iterable[str] = ALL_SECRETS, *, data_dir: bool = True, umask: bool = True
) -> Settings:
    """The first call of an entry point: exit 2 with the reason on weak secrets; then private files (umask 077,
    and DATA_DIR 0700 when the process keeps files there)."""
    try:
        check_secrets(settings, needs)
    except UnsafeConfiguration as exc:
        print(f"beforeservice: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from exc
    if umask:
        private_files(settings.data_dir if data_dir else None)
    return settings
