"""The keyring that seals personal data at rest (AES-256-GCM, key ids, column binding) and its column types."""

from __future__ import annotations

import base64
import importlib.util
import json

import pytest

from beforeservice.database import MIGRATIONS
from entitlements.persistence.sealing import (
    DEV_DATA_KEYS,
    Keyring,
    SealingError,
    UnknownKeyError,
    key_id_of,
    new_key_entry,
)

K1 = new_key_entry("k1")
K2 = new_key_entry("k2")
COLUMN = b"entitlements.reason_ko"
TEXT = "아동수당: 만 8세 미만 아동 — 아동수당법 제4조 (받을 수 있어요)"


def test_round_trip_under_the_active_key_with_a_fresh_nonce() -> None:
    ring = Keyring.parse(f"{K2},{K1}")
    assert ring.active == "k2" and ring.kids == ("k2", "k1")
    first, second = ring.seal(TEXT.encode(), COLUMN), ring.seal(TEXT.encode(), COLUMN)
    assert first != second  # a random 96-bit nonce per value: equal plaintexts differ at rest
    assert first.startswith("v1.k2.") and key_id_of(first) == "k2"
    assert TEXT not in first and "아동" not in first
    assert ring.open(first, COLUMN).decode() == TEXT == ring.open(second, COLUMN).decode()
    assert ring.is_current(first) and not Keyring.parse(f"{K1},{K2}").is_current(first)


def test_any_key_of_the_ring_opens_and_an_unknown_key_id_is_named() -> None:
    old = Keyring.parse(K1).seal(b"x", COLUMN)
    assert Keyring.parse(f"{K2},{K1}").open(old, COLUMN) == b"x"
    with pytest.raises(UnknownKeyError, match=r"entitlements\.reason_ko: sealed under key id 'k1'") as unknown:
        Keyring.parse(K2).open(old, COLUMN)
    assert unknown.value.kid == "k1"


def test_tampering_is_detected() -> None:
    ring = Keyring.parse(K1)
    sealed = ring.seal(TEXT.encode(), COLUMN)
    header, body = sealed.rsplit(".", 1)
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[20] ^= 1
    flipped = header + "." + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(SealingError, match=r"entitlements\.reason_ko: .*key id 'k1' does not open"):
        ring.open(flipped, COLUMN)
    with pytest.raises(SealingError, match="does not open"):
        ring.open(sealed[:-4], COLUMN)  # truncated


def test_a_value_moved_to_another_column_or_relabelled_does_not_open() -> None:
    ring = Keyring.parse(f"{K2},{K1}")
    sealed = ring.seal(TEXT.encode(), COLUMN)
    with pytest.raises(SealingError, match=r"notifications\.message_ko"):
        ring.open(sealed, b"notifications.message_ko")
    relabelled = "v1.k1." + sealed.split(".", 2)[2]  # the key id is authenticated too
    with pytest.raises(SealingError, match="key id 'k1'"):
        ring.open(relabelled, COLUMN)


def test_plaintext_and_unknown_formats_are_refused_clearly() -> None:
    ring = Keyring.parse(K1)
    with pytest.raises(SealingError, match=r"entitlements\.reason_ko: a value that is not sealed"):
        ring.open(TEXT, COLUMN)
    with pytest.raises(SealingError, match="unknown format"):
        ring.open("v9.k1.AAAA", COLUMN)
    assert key_id_of(TEXT) is None


def test_keys_from_settings_are_checked() -> None:
    with pytest.raises(SealingError, match="needs 32"):
        Keyring.parse("k1:" + base64.b64encode(b"short").decode())
    with pytest.raises(SealingError, match="appears twice"):
        Keyring.parse(f"{K1},{K1}")
    with pytest.raises(SealingError, match="key id"):
        Keyring.parse("k.1:" + K1.split(":")[1])
    with pytest.raises(SealingError, match="expected"):
        Keyring.parse("no-separator")
    standard = "k3:" + base64.b64encode(bytes(range(32))).decode()  # standard base64 (with + and /) works too
    assert Keyring.parse(standard).open(Keyring.parse(standard).seal(b"y", COLUMN), COLUMN) == b"y"
    assert Keyring.parse(DEV_DATA_KEYS).active == "dev"


def test_column_types_seal_on_bind_and_open_on_result() -> None:
    from entitlements.persistence.sealed_columns import SealedJSON, SealedText, install_keyring, installed_keyring

    previous = installed_keyring()
    install_keyring(Keyring.parse(K1))
    try:
        text_type, json_type = SealedText("entitlements.reason_ko"), SealedJSON("entitlements.trace")
        stored = text_type.process_bind_param(TEXT, None)  # type: ignore[arg-type]
        assert stored is not None and stored.startswith("v1.k1.") and TEXT not in stored
        assert text_type.process_result_value(stored, None) == TEXT  # type: ignore[arg-type]
        trace = [{"when": "child.age_months < 96", "holds": True, "reason_ko": "만 8세 미만"}]
        sealed_trace = json_type.process_bind_param(trace, None)  # type: ignore[arg-type]
        assert sealed_trace is not None and "만 8세" not in sealed_trace and json.dumps(trace) not in sealed_trace
        assert json_type.process_result_value(sealed_trace, None) == trace  # type: ignore[arg-type]
        assert text_type.process_bind_param(None, None) is None  # type: ignore[arg-type]
        with pytest.raises(SealingError, match=r"entitlements\.trace"):
            json_type.process_result_value(stored, None)  # type: ignore[arg-type]
    finally:
        if previous is not None:
            install_keyring(previous)


def test_every_sealed_column_is_named_after_itself() -> None:
    import beforeservice.console.tables as console
    import notifiers.tables  # noqa: F401 - registers the notification tables
    from entitlements.persistence.sealed_columns import sealed_tables
    from entitlements.persistence.tables import Base

    found = {f"{t.name}.{c}" for t in sealed_tables(Base.metadata, console.ConsoleBase.metadata) for c in t.columns}
    assert found == {
        "entitlements.trace",
        "entitlements.reason_ko",
        "entitlements.reason_en",
        "notifications.message_ko",
        "notifications.message_en",
        "review_actions.note",
        "review_cases.info_request",
        "review_cases.rejection_reason",
    }
    # The migration that seals existing rows knows the same columns (it keeps its own frozen list).
    spec = importlib.util.spec_from_file_location("m0004s", MIGRATIONS / "versions" / "0004s_sealed_columns.py")
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert {f"{t.name}.{c}" for t in migration.SEALED for c in t.columns} == found
