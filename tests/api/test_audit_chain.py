"""The audit log is append-only in the database and tamper-evident by its hash chain (`beforeservice audit verify`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.console.audit import AuditEntry, AuditTransaction, append, verify

pytestmark = pytest.mark.integration


def run_cli(database_url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "beforeservice", *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def write_entries(sessions: sessionmaker[Session], n: int) -> None:
    for i in range(n):
        with AuditTransaction(sessions()) as session:
            append(session, AuditEntry("kim.suwon", "caseworker", "10.0.0.7", "case.read", "read", f"c-{i}", f"e-{i}"))


def test_tampering_is_refused_and_otherwise_detected(sessions: sessionmaker[Session], database_url: str) -> None:
    write_entries(sessions, 5)
    with sessions() as session:
        assert verify(session) == (5, [])
    ok = run_cli(database_url, "audit", "verify")
    assert ok.returncode == 0 and "5 entries" in ok.stdout

    # The database refuses edits and deletions outright.
    for statement in ("UPDATE audit_log SET data_subject = 'c-x' WHERE id = 2", "DELETE FROM audit_log WHERE id = 2"):
        with pytest.raises(DatabaseError, match="append-only"), sessions.begin() as session:
            session.execute(text(statement))

    # Someone with the power to drop the guard still cannot hide the change.
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        else:
            session.execute(text("DROP TRIGGER audit_log_no_update"))
            session.execute(text("DROP TRIGGER audit_log_no_delete"))
        session.execute(text("UPDATE audit_log SET data_subject = 'c-someone-else' WHERE id = 2"))
        session.execute(text("DELETE FROM audit_log WHERE id = 4"))
    with sessions() as session:
        checked, breaks = verify(session)
    assert checked == 4
    assert [(b.entry_id, "changed" in b.problem) for b in breaks] == [(2, True), (5, False)]
    tampered = run_cli(database_url, "audit", "verify")
    assert tampered.returncode == 1
    assert "entry 2" in tampered.stderr and "entry 5" in tampered.stderr and "TAMPERED" in tampered.stderr


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
