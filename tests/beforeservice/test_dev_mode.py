"""H1: outside DEV_MODE no engine process starts on missing, short or public development secrets; it says which."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from beforeservice.console.audit_anchors import DEV_ANCHOR_KEY, new_signing_key
from beforeservice.settings import DEV_PSEUDONYM_KEY, DEV_TOKEN_SECRET, Settings
from beforeservice.startup import ALL_SECRETS, check_secrets, secret_problems
from entitlements.persistence.sealing import DEV_DATA_KEYS, new_key_entry

STRONG = {
    "TOKEN_SECRET": "t" * 8 + os.urandom(24).hex(),
    "PSEUDONYM_KEY": "p" * 8 + os.urandom(24).hex(),
    "DATA_KEYS": new_key_entry("k1"),
    "AUDIT_ANCHOR_KEY": new_signing_key(),
}


def _run(command: list[str], tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (*ALL_SECRETS, "DEV_MODE", "DEV_LOGIN")}
    env.update(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path}/never.db",
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",  # nothing listens: a process that started would fail later
            "DATA_DIR": str(tmp_path / "var"),
            **variables,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "beforeservice", *command], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.integration
@pytest.mark.parametrize("command", [["api"], ["worker"], ["dispatcher"], ["scheduler"], ["up"], ["demo"]])
def test_engine_processes_refuse_to_start_without_secrets(command: list[str], tmp_path: Path) -> None:
    result = _run(command, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    for name in ALL_SECRETS:
        assert name in result.stderr
    assert "refusing to start outside DEV_MODE" in result.stderr
    assert not (tmp_path / "never.db").exists()  # refused before touching anything


@pytest.mark.integration
def test_the_api_refuses_public_or_short_secrets_and_dev_login(tmp_path: Path) -> None:
    public = _run(["api"], tmp_path, **{**STRONG, "TOKEN_SECRET": DEV_TOKEN_SECRET})
    assert public.returncode == 2 and "TOKEN_SECRET is the public development value" in public.stderr
    short = _run(["api"], tmp_path, **{**STRONG, "PSEUDONYM_KEY": "short-but-secret"})
    assert short.returncode == 2 and "PSEUDONYM_KEY is too short" in short.stderr
    dev_key = _run(["api"], tmp_path, **{**STRONG, "DATA_KEYS": f"{STRONG['DATA_KEYS']},{DEV_DATA_KEYS}"})
    assert dev_key.returncode == 2 and "DATA_KEYS contains the public dev-only key" in dev_key.stderr
    public_anchor = _run(["api"], tmp_path, **{**STRONG, "AUDIT_ANCHOR_KEY": DEV_ANCHOR_KEY})
    assert public_anchor.returncode == 2 and "AUDIT_ANCHOR_KEY is the public dev-only key" in public_anchor.stderr
    dev_login = _run(["api"], tmp_path, **{**STRONG, "DEV_LOGIN": "true"})
    assert dev_login.returncode == 2 and "DEV_LOGIN=true" in dev_login.stderr
    # Sealing existing rows needs a real DATA_KEYS too.
    upgrade = _run(["db", "upgrade"], tmp_path, **{**STRONG, "DATA_KEYS": ""})
    assert upgrade.returncode == 2 and "DATA_KEYS is not set" in upgrade.stderr


def test_strong_secrets_pass_and_dev_mode_warns_loudly(capsys: pytest.CaptureFixture[str]) -> None:
    strong = Settings(
        token_secret=STRONG["TOKEN_SECRET"],
        pseudonym_key=STRONG["PSEUDONYM_KEY"],
        data_keys=STRONG["DATA_KEYS"],
        audit_anchor_key=STRONG["AUDIT_ANCHOR_KEY"],
    )
    assert secret_problems(strong) == []
    check_secrets(strong)
    assert capsys.readouterr().err == ""
    dev = Settings(
        dev_mode=True, token_secret=DEV_TOKEN_SECRET, pseudonym_key=DEV_PSEUDONYM_KEY, data_keys="", audit_anchor_key=""
    )
    check_secrets(dev)
    warning = capsys.readouterr().err
    assert "WARNING DEV_MODE=true: running on PUBLIC development secrets" in warning
    assert all(name in warning for name in ALL_SECRETS)
