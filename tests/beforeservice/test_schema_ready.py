"""Every command that needs the schema migrates the embedded default (SQLite) or says what to run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect

from beforeservice.database import make_engine
from tests.conftest import DEFAULT_TEST_DATABASE_URL, _reset_postgres

pytestmark = pytest.mark.integration


def beforeservice(*command: str, database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it (its own process, settings from the environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_"))}
    env.update({"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "var")})
    return subprocess.run(
        [sys.executable, "-m", "beforeservice", *command], env=env, capture_output=True, text=True, timeout=300
    )


def test_bench_rules_on_a_fresh_sqlite_file_migrates_it_first(tmp_path: Path) -> None:
    database = tmp_path / "fresh.db"
    result = beforeservice(
        "bench", "rules", "--people", "300", "--repeat", "50", database_url=f"sqlite:///{database}", tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"synthesised 3\d\d citizens", result.stdout), result.stdout
    assert re.search(r"backfill child_allowance over 3\d\d citizens \(sqlite\): dry run", result.stdout)
    engine = make_engine(f"sqlite:///{database}")
    assert {"citizens", "entitlements", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_a_command_on_an_empty_postgresql_database_says_what_to_run(tmp_path: Path) -> None:
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    _reset_postgres(url)  # no tables at all: nobody ran the migrations
    result = beforeservice("synth", "--people", "10", database_url=url, tmp_path=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "run `beforeservice db upgrade` first" in result.stderr
    assert "Traceback" not in result.stderr
    engine = make_engine(url)
    assert inspect(engine).get_table_names() == []  # an operator's database is never migrated behind their back
    engine.dispose()
