"""`beforeservice up` (what `make run` starts) brings everything up on embedded defaults, in development mode (said
loudly), with private files, shows demo offers, and stops everything — broker included — on Ctrl-C."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from beforeservice.broker import free_port

pytestmark = pytest.mark.integration


def citizen_app_signed_in(app_url: str, subject: str) -> str:
    """The app's inbox after signing in as `subject` on the local provider's page (what a browser does)."""
    with httpx.Client(timeout=10, follow_redirects=True) as client:
        authorize = client.get(app_url + "login/start")
        assert authorize.status_code == 200 and 'name="sub"' in authorize.text, authorize.text
        inbox = client.post(str(authorize.url), data={"sub": subject})
    assert inbox.status_code == 200 and str(inbox.url) == app_url, (
        inbox.url,
        inbox.text[inbox.text.find("<main") :][:400],
    )
    return inbox.text


def test_up_shows_demo_offers_and_stops_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_", "FIREBASE_", "FCM_"))}
    env.update(
        {
            "DATA_DIR": str(tmp_path / "var"),
            "DATABASE_URL": f"sqlite:///{tmp_path}/var/beforeservice.db",
            "EMBEDDED_BROKER_PORT": str(free_port()),
            "API_PORT": str(free_port()),
            "WORKER_METRICS_PORT": "0",
            "DEV_MODE": "true",  # what `make run` sets
            "LOCAL_OIDC_PORT": str(free_port()),
        }
    )
    for name in ("TOKEN_SECRET", "PSEUDONYM_KEY", "DATA_KEYS", "AUDIT_ANCHOR_KEY"):
        env.pop(name, None)  # the public development values, as on a fresh checkout
    process = subprocess.Popen(
        [sys.executable, "-m", "beforeservice", "up"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 240
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "press Ctrl-C" in line:
            break
    output = "\n".join(lines)
    assert "running — press Ctrl-C to stop" in output, output
    offer_lines = [line for line in lines if " offers, child #" in line]
    assert len(offer_lines) >= 10, output  # most of the 12 demo births have decided offers within seconds
    assert "출산을 축하합니다" in output and "curl -s -H 'Authorization: Bearer" in output
    assert "WARNING DEV_MODE=true: running on PUBLIC development secrets" in output
    # The citizens' app signs a demo parent in at the local OIDC provider `up` started.
    app_url = next(line.split()[1] for line in lines if line.startswith("app "))
    parent = next(line.split()[0].rstrip(":") for line in offer_lines)
    assert "내 혜택" in citizen_app_signed_in(app_url, parent)

    # What the engine keeps in DATA_DIR (logs, the SQLite database, Faust's state) is its user's alone.
    data_dir = tmp_path / "var"
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    kept = list(data_dir.rglob("*"))
    assert {"api.log", "worker.log", "broker.log", "beforeservice.db"} <= {p.name for p in kept}
    loose = {str(p): oct(stat.S_IMODE(p.stat().st_mode)) for p in kept if p.stat().st_mode & 0o077}
    assert loose == {}

    children = psutil.Process(process.pid).children(recursive=True)
    assert any("tansu" in " ".join(c.cmdline()) for c in children)
    process.send_signal(signal.SIGINT)
    rest = process.communicate(timeout=60)[0]
    assert process.returncode == 0 and "stopped" in rest
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], [c.cmdline() for c in alive]
