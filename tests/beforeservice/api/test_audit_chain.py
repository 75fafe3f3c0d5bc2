"""The audit log is append-only in the database and tamper-evident by its hash chain and its signed anchors
(`beforeservice audit verify`): every attack here goes through raw SQL, as someone holding the database would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.console.audit import GENESIS, AuditEntry, AuditTransaction, _digest, append, verify
from beforeservice.console.audit_anchors import AnchorFile, Anchoring, AnchorSigner, encode_public_key, new_signing_key

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class AnchorSetup:
    key: str
    file: Path

    def anchoring(self, every: int = 1, syslog: str = "") -> Anchoring:
        return Anchoring(AnchorSigner.from_setting(self.key), AnchorFile(self.file), every, syslog)

    @property
    def env(self) -> dict[str, str]:
        return {"AUDIT_ANCHOR_KEY": self.key, "AUDIT_ANCHOR_FILE": str(self.file)}


@pytest.fixture
def anchors(tmp_path: Path) -> AnchorSetup:
    return AnchorSetup(new_signing_key(), tmp_path / "anchors" / "audit-anchors.jsonl")


def run_cli(
    database_url: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_ANCHOR_")}
    full_env.update({"DATABASE_URL": database_url, **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "beforeservice", *args],
        env=full_env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_entries(sessions: sessionmaker[Session], n: int, anchoring: Anchoring, start: int = 0) -> None:
    for i in range(start, start + n):
        with AuditTransaction(sessions(), anchoring) as session:
            append(session, AuditEntry("kim.suwon", "caseworker", "10.0.0.7", "case.read", "read", f"c-{i}", f"e-{i}"))


def drop_guards(session: Session) -> None:
    """What someone with the power over the schema does first."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
    else:
        session.execute(text("DROP TRIGGER audit_log_no_update"))
        session.execute(text("DROP TRIGGER audit_log_no_delete"))


def rehash_from(session: Session, first_id: int) -> None:
    """Recompute every hash from `first_id` on with the public algorithm, so the chain holds together again."""
    rows = session.execute(
        text(
            "SELECT id, at, account, role, ip, action, kind, data_subject, object_id, detail FROM audit_log ORDER BY id"
        )
    ).all()
    prev = GENESIS
    for row in rows:
        if row.id >= first_id:
            at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(row.at)
            detail = row.detail if isinstance(row.detail, dict) else json.loads(row.detail)
            entry = AuditEntry(
                row.account, row.role, row.ip, row.action, row.kind, row.data_subject, row.object_id, detail
            )
            new_hash = _digest(prev, at, entry)
            session.execute(
                text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE id = :id"),
                {"p": prev, "h": new_hash, "id": row.id},
            )
            prev = new_hash
        else:
            prev = session.scalar(text("SELECT hash FROM audit_log WHERE id = :id"), {"id": row.id})


def test_tampering_is_refused_and_otherwise_detected(
    sessions: sessionmaker[Session], database_url: str, anchors: AnchorSetup
) -> None:
    write_entries(sessions, 5, anchors.anchoring())
    with sessions() as session:
        assert verify(session) == (5, [])
    ok = run_cli(database_url, "audit", "verify", env=anchors.env)
    assert ok.returncode == 0 and "5 entries" in ok.stdout and "anchored up to entry 5" in ok.stdout, ok.stderr

    # The database refuses edits and deletions outright.
    for statement in ("UPDATE audit_log SET data_subject = 'c-x' WHERE id = 2", "DELETE FROM audit_log WHERE id = 2"):
        with pytest.raises(DatabaseError, match="append-only"), sessions.begin() as session:
            session.execute(text(statement))

    # Someone with the power to drop the guard still cannot hide the change.
    with sessions.begin() as session:
        drop_guards(session)
        session.execute(text("UPDATE audit_log SET data_subject = 'c-someone-else' WHERE id = 2"))
        session.execute(text("DELETE FROM audit_log WHERE id = 4"))
    with sessions() as session:
        checked, breaks = verify(session)
    assert checked == 4
    assert [(b.entry_id, "changed" in b.problem) for b in breaks] == [(2, True), (5, False)]
    tampered = run_cli(database_url, "audit", "verify", env=anchors.env)
    assert tampered.returncode == 1
    assert "entry 2" in tampered.stderr and "entry 5" in tampered.stderr and "TAMPERED" in tampered.stderr
    assert "entry 4: was anchored" in tampered.stderr and "missing (removed)" in tampered.stderr


def overwrites(dialect: str) -> list[str]:
    """Statements that replace or remove a row without an UPDATE or DELETE of it."""
    row = (
        "(2, CURRENT_TIMESTAMP, 'mallory', 'caseworker', NULL, 'case.read', 'read', 'c-other', 'e-1', '{}', "
        f"'{GENESIS}', '{'f' * 64}')"
    )
    columns = "(id, at, account, role, ip, action, kind, data_subject, object_id, detail, prev_hash, hash)"
    upsert = f"INSERT INTO audit_log {columns} VALUES {row} ON CONFLICT (id) DO UPDATE SET account = 'mallory'"
    if dialect == "postgresql":
        return [
            "TRUNCATE audit_log",
            upsert,
            "MERGE INTO audit_log USING (SELECT 2 AS id) s ON audit_log.id = s.id WHEN MATCHED THEN DELETE",
        ]
    return [
        f"REPLACE INTO audit_log {columns} VALUES {row}",
        f"INSERT OR REPLACE INTO audit_log {columns} VALUES {row}",
        # A new id, but another row's hash: REPLACE would delete that row to make room.
        f"INSERT OR REPLACE INTO audit_log {columns} VALUES "
        + row.replace("(2,", "(99,").replace("'" + "f" * 64 + "'", "(SELECT hash FROM audit_log WHERE id = 3)"),
        upsert,
    ]


def test_replace_truncate_and_upsert_are_refused(
    sessions: sessionmaker[Session], database_url: str, anchors: AnchorSetup
) -> None:
    write_entries(sessions, 4, anchors.anchoring())
    with sessions() as session:
        dialect = session.get_bind().dialect.name
        before = session.execute(text("SELECT id, hash FROM audit_log ORDER BY id")).all()
    for statement in overwrites(dialect):
        with pytest.raises(DatabaseError, match="append-only"), sessions.begin() as session:
            session.execute(text(statement))
    with sessions() as session:
        assert session.execute(text("SELECT id, hash FROM audit_log ORDER BY id")).all() == before
    # Appending still works, the guard only refuses what would overwrite.
    write_entries(sessions, 1, anchors.anchoring(), start=4)
    assert run_cli(database_url, "audit", "verify", env=anchors.env).returncode == 0


def test_a_removed_tail_is_detected(sessions: sessionmaker[Session], database_url: str, anchors: AnchorSetup) -> None:
    write_entries(sessions, 6, anchors.anchoring())
    with sessions.begin() as session:
        drop_guards(session)
        session.execute(text("DELETE FROM audit_log WHERE id > 4"))
    with sessions() as session:
        assert verify(session) == (4, [])  # the chain alone holds together: what is left is a valid prefix
    result = run_cli(database_url, "audit", "verify", env=anchors.env)
    assert result.returncode == 1, result.stdout
    assert "entry 5: was anchored" in result.stderr and "entry 6: was anchored" in result.stderr
    assert "the log ends at entry 4 (its tail was removed)" in result.stderr
    assert "TAMPERED: 2 problem(s) in 4 entries" in result.stderr


def test_a_rehashed_chain_is_detected(sessions: sessionmaker[Session], database_url: str, anchors: AnchorSetup) -> None:
    write_entries(sessions, 6, anchors.anchoring(every=2))
    with sessions.begin() as session:
        drop_guards(session)
        session.execute(text("UPDATE audit_log SET data_subject = 'c-someone-else' WHERE id = 3"))
        session.execute(text("DELETE FROM audit_log WHERE id = 5"))
        rehash_from(session, 3)
    with sessions() as session:
        assert verify(session) == (5, [])  # recomputed: the chain alone cannot tell
    result = run_cli(database_url, "audit", "verify", env=anchors.env)
    assert result.returncode == 1, result.stdout
    # Anchored every 2 entries: 2 still matches, 4 and 6 do not; the rewrite lies after entry 2.
    assert "entry 2:" not in result.stderr
    assert "entry 4: its hash differs from the one anchored" in result.stderr
    assert "entry 6: its hash differs" in result.stderr and "rewritten after entry 2" in result.stderr


def test_anchors_cannot_be_forged_or_dropped(
    sessions: sessionmaker[Session], database_url: str, anchors: AnchorSetup
) -> None:
    write_entries(sessions, 3, anchors.anchoring())
    with sessions.begin() as session:
        drop_guards(session)
        session.execute(text("DELETE FROM audit_log WHERE id = 3"))
    # Whoever truncated the table also rewrites the anchor file, signing with a key of their own.
    forger = AnchorSetup(new_signing_key(), anchors.file)
    anchors.file.unlink()
    with sessions() as session:
        head = session.execute(text("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")).one()
    forger.anchoring().anchor(head.id, head.hash)
    result = run_cli(database_url, "audit", "verify", env=anchors.env)
    assert result.returncode == 1
    assert "anchor line 1: signed with key" in result.stderr and "not a trusted anchor key" in result.stderr
    assert "no trusted anchor although the log holds 2 entries" in result.stderr
    # An anchor signed with the trusted key but altered by hand (its seq moved back) no longer verifies.
    signed = AnchorSigner.from_setting(anchors.key).sign(head.id + 1, "0" * 64)
    anchors.file.write_text(signed.line().replace(f'"seq":{head.id + 1}', f'"seq":{head.id}') + "\n")
    altered = run_cli(database_url, "audit", "verify", env=anchors.env)
    assert altered.returncode == 1 and "anchor line 1: its signature does not hold" in altered.stderr


def test_anchor_every_n_and_on_demand_with_public_key_only(
    sessions: sessionmaker[Session], database_url: str, anchors: AnchorSetup
) -> None:
    write_entries(sessions, 7, anchors.anchoring(every=3))
    lines = [json.loads(line) for line in anchors.file.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [3, 6]
    partial = run_cli(database_url, "audit", "verify", env=anchors.env)
    assert partial.returncode == 0 and "anchored up to entry 6" in partial.stdout
    assert "1 entries after the latest anchor" in partial.stdout

    anchored = run_cli(database_url, "audit", "anchor", env=anchors.env)
    assert anchored.returncode == 0 and "anchored entry 7" in anchored.stdout, anchored.stderr
    assert json.loads(anchors.file.read_text().splitlines()[-1])["seq"] == 7
    assert oct(anchors.file.stat().st_mode & 0o777) == "0o600"

    # An auditor verifies with the public key alone (no power to sign), against a copy of the anchors.
    keys = run_cli(database_url, "audit", "keygen")
    assert keys.returncode == 0 and "AUDIT_ANCHOR_KEY=" in keys.stdout
    public = AnchorSigner.from_setting(anchors.key).public
    copy = anchors.file.with_name("worm-copy.jsonl")
    copy.write_bytes(anchors.file.read_bytes())
    auditor = run_cli(
        database_url,
        "audit",
        "verify",
        "--anchors",
        str(copy),
        env={"AUDIT_ANCHOR_PUBLIC_KEYS": encode_public_key(public), "AUDIT_ANCHOR_FILE": "/nonexistent"},
    )
    assert auditor.returncode == 0 and "anchored up to entry 7" in auditor.stdout, auditor.stderr


@pytest.fixture
def syslog_receiver() -> Iterator[socket.socket]:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10)
    yield receiver
    receiver.close()


def test_anchors_are_also_sent_to_syslog(
    sessions: sessionmaker[Session], anchors: AnchorSetup, syslog_receiver: socket.socket
) -> None:
    port = syslog_receiver.getsockname()[1]
    write_entries(sessions, 1, anchors.anchoring(syslog=f"udp://127.0.0.1:{port}"))
    message = syslog_receiver.recv(4096).decode()
    assert message.startswith("<86>beforeservice-audit-anchor: ")  # authpriv.info
    sent = json.loads(message.split(": ", 1)[1].rstrip("\x00"))
    assert sent == json.loads(anchors.file.read_text().splitlines()[0]) and sent["seq"] == 1


def test_caseworkers_cli_adds_an_account_that_can_log_in(sessions: sessionmaker[Session], database_url: str) -> None:
    from beforeservice.console.accounts import authenticate

    added = run_cli(
        database_url,
        "caseworkers", "add", "han.yongin", "--agency", "yongin", "--municipality", "41463", "--password-stdin",
        stdin="a long enough passphrase\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    short = run_cli(
        database_url,
        "caseworkers",
        "add",
        "x",
        "--agency",
        "*",
        "--municipality",
        "*",
        "--password-stdin",
        stdin="short\n",
    )
    assert short.returncode == 2 and "12 characters" in short.stderr
    with sessions() as session:
        account = authenticate(session, "han.yongin", "a long enough passphrase")
        assert account is not None and account.municipalities == ["41463"]
        assert account.password_hash.startswith("$argon2id$")
        assert authenticate(session, "han.yongin", "wrong") is None
