"""`beforeservice bench notify`: outbox dispatcher throughput and outbox-to-accepted latency against a local
FCM-compatible peer in its own process (aiohttp), for the production sender (`CurlFcmPushSender`, libcurl) and
the reference it is measured against (firebase-admin's own `send_each`, `FcmPushSender`).

Every dispatcher runs in a process of its own (several share the outbox via SKIP LOCKED with `processes` > 1,
PostgreSQL only); this process queues the notifications and, in the latency run, is the producer. The outbox is
a temporary SQLite database, or a fresh `bench_notify` schema in the PostgreSQL database given.

Prints figures; asserts nothing about time (benchmarks are not tests).
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

import httpx
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.bootstrap import configure_keyring
from beforeservice.database import MIGRATIONS, make_engine, session_factory, upgrade
from beforeservice.settings import Settings
from notifiers.dispatch_status import DispatchStatus
from notifiers.fcm.sender import FcmPushSender
from notifiers.fcm.transport import CurlFcmPushSender
from notifiers.outbox import dispatch_pending
from notifiers.policy import DispatchPolicy
from notifiers.push import PushSender
from notifiers.tables import ConsentRow, DeviceRow, NotificationRow
from notifiers.timing import PushBudget, QuietHours
from rules_engine.categories import ConsentCategory

PROJECT = "before-service-bench"
_SCHEMA = "bench_notify"
# Timing rules are not measured here: no quiet hours, no weekly budget.
_POLICY = DispatchPolicy(quiet_hours=QuietHours(clock(0), clock(0)), budget=PushBudget(10**9))


def serve_fcm(port: int) -> None:
    """The FCM peer: OAuth token endpoint and messages:send, recording when each notification id arrived."""
    from aiohttp import web

    ids = itertools.count(1)
    arrivals: dict[str, float] = {}

    async def token(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"access_token": "ya29.bench", "expires_in": 3600, "token_type": "Bearer"})

    async def send(request: web.Request) -> web.Response:
        body = await request.json()
        notification_id = body["message"].get("data", {}).get("notification_id")
        if notification_id:
            arrivals.setdefault(notification_id, time.time())
        return web.json_response({"name": f"projects/{request.match_info['project']}/messages/{next(ids)}"})

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(arrivals)

    app = web.Application()
    app.router.add_post("/token", token)
    app.router.add_post("/v1/projects/{project}/messages:send", send)
    app.router.add_get("/arrivals", stats)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


@dataclass
class Figures:
    path: str
    throughput: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    offered: float | None = None
    cpu_us: float | None = None  # dispatcher CPU (all its threads) per message in the throughput run


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _service_account(directory: Path, token_uri: str) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    import json

    path = directory / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": uuid.uuid4().hex,
                "private_key": pem,
                "client_email": f"bench@{PROJECT}.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return path


def register_phones(executor: Session | Connection, people: list[str], token_prefix: str, now: datetime) -> None:
    """One device (token `token_prefix` + id) and a push consent for childbirth offers per citizen, in bulk."""
    executor.execute(
        insert(DeviceRow),
        [
            {"token": f"{token_prefix}{p}", "citizen_id": p, "platform": "android", "last_refreshed_at": now}
            for p in people
        ],
    )
    executor.execute(
        insert(ConsentRow),
        [
            {
                "citizen_id": p,
                "category": ConsentCategory.CHILDBIRTH_CHILDCARE,
                "channel": "push",
                "text_version": "bench",
                "granted_at": now,
                "withdrawn_at": None,
            }
            for p in people
        ],
    )


def _queue(sessions: sessionmaker[Session], count: int, prefix: str) -> list[str]:
    """`count` notifications, each to a consenting citizen with one device (one push each); their ids."""
    now = datetime.now(UTC)
    people = [f"{prefix}-{i}" for i in range(count)]
    ids = [str(uuid.uuid4()) for _ in people]
    with sessions.begin() as session:
        register_phones(session, people, "tok-", now)
        session.execute(
            insert(NotificationRow),
            [
                {
                    "id": notification_id,
                    "recipient_id": p,
                    "household_id": f"hh-{p}",
                    "event_source": "/bench",
                    "event_id": p,
                    "event_type": "kr.go.mois.birth.registered",
                    "category": ConsentCategory.CHILDBIRTH_CHILDCARE,
                    "offer_ids": [],
                    "language": "ko",
                    "lock_screen_title": "출산을 축하합니다",
                    "lock_screen_body": "혜택을 받으실 수 있어요. 앱에서 확인해 주세요.",
                    "message_ko": "",
                    "message_en": "",
                    "dispatch_status": DispatchStatus.PENDING,
                    "dispatch_attempts": 0,
                    "created_at": datetime.now(UTC),
                }
                for p, notification_id in zip(people, ids, strict=True)
            ],
        )
    return ids


def _drain(sessions: sessionmaker[Session], sender: PushSender, stop: Callable[[], bool]) -> tuple[int, float]:
    """Dispatch until the outbox is empty and `stop()`: (messages sent, when the last batch was committed)."""
    sent, last = 0, time.perf_counter()
    while True:
        result = dispatch_pending(sessions, sender, 500, policy=_POLICY)
        if result.notifications:
            sent, last = sent + result.messages, time.perf_counter()
        elif stop():
            return sent, last
        else:
            time.sleep(0.005)


SENDERS: dict[str, type[FcmPushSender]] = {
    "sync": FcmPushSender,
    "curl": CurlFcmPushSender,
}
LABELS = {
    "sync": "sync send_each (reference)",
    "curl": "libcurl CurlFcmPushSender",
}
PHASES = ("warm", "throughput", "latency")


def _dispatcher(
    kind: str, url: str, credentials: str, peer: str, go: list[Any], stop: list[Any], out: Any, name: str
) -> None:
    """One dispatcher process: for each phase, wait for `go`, drain until the outbox is empty and `stop` is
    set, report (phase, messages, seconds from `go` to the last commit, CPU seconds of the process)."""
    os.environ.setdefault("GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED", "false")
    configure_keyring(Settings())  # a process of its own (spawned): the outbox's texts are sealed
    engine = make_engine(url)
    sessions = session_factory(engine)
    with SENDERS[kind](credentials, project_id=PROJECT, endpoint=peer, app_name=name) as sender:
        out.put(("ready", 0, 0.0, 0.0))
        for phase, go_event, stop_event in zip(PHASES, go, stop, strict=True):
            go_event.wait()
            started, cpu = time.perf_counter(), time.process_time()
            sent, last = _drain(sessions, sender, stop_event.is_set)
            out.put((phase, sent, last - started, time.process_time() - cpu))
    engine.dispose()


def _latency_offer(
    sessions: sessionmaker[Session], rate: int, seconds: float, tag: str
) -> tuple[dict[str, float], float]:
    """Commit `rate` notifications a second for `seconds` (20 ms ticks): when each was committed, and the rate
    actually offered (lower than `rate` if this process could not keep up)."""
    created: dict[str, float] = {}
    per_tick, ticks = max(1, rate // 50), int(seconds * 50)
    start = time.time()
    for tick in range(ticks):
        prefix = f"l-{tag}-{tick}"
        ids = _queue(sessions, per_tick, prefix)
        stamp = time.time()
        created.update(dict.fromkeys(ids, stamp))
        time.sleep(max(0.0, start + (tick + 1) / 50 - time.time()))
    return created, len(created) / (time.time() - start)


def _percentile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


def _fresh_outbox(database_url: str | None, directory: Path, kind: str) -> str:
    """A URL to an empty, migrated outbox: a temporary SQLite file, or PostgreSQL schema `bench_notify`."""
    if not database_url or make_url(database_url).get_backend_name() == "sqlite":
        url = f"sqlite:///{directory}/{kind}.db"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url
    admin = make_engine(database_url)
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {_SCHEMA} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {_SCHEMA}"))
    admin.dispose()
    url = (
        make_url(database_url)
        .update_query_dict({"options": f"-csearch_path={_SCHEMA}"})
        .render_as_string(hide_password=False)
    )
    engine = make_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # Alembic's parser reads % specially
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    engine.dispose()
    return url


def _analyze(sessions: sessionmaker[Session]) -> None:
    # A production outbox has statistics; a fresh schema has none and the planner guesses badly without them.
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE"))


def _run_path(
    kind: str,
    url: str,
    credentials: Path,
    peer: str,
    messages: int,
    rate: int,
    seconds: float,
    processes: int,
) -> list[Figures]:
    ctx = multiprocessing.get_context("spawn")
    go = [ctx.Event() for _ in PHASES]
    stop = [ctx.Event() for _ in PHASES]
    out = ctx.Queue()
    workers = [
        ctx.Process(
            target=_dispatcher,
            args=(kind, url, str(credentials), peer, go, stop, out, f"bench-{kind}-{i}"),
            daemon=True,
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    engine = make_engine(url)
    sessions = session_factory(engine)
    try:
        for _ in workers:
            out.get(timeout=120)  # ready
        reports: dict[str, list[tuple[int, float, float]]] = {}
        for index, phase in enumerate(PHASES):
            created: dict[str, float] = {}
            offered = 0.0
            if phase != "latency":
                _queue(sessions, 500 * processes if phase == "warm" else messages, f"{phase}-{kind}")
                _analyze(sessions)
                go[index].set()
                stop[index].set()
            else:
                go[index].set()
                created, offered = _latency_offer(sessions, rate, seconds, kind)
                stop[index].set()
            reports[phase] = [out.get(timeout=600)[1:] for _ in workers]
        arrivals = httpx.get(f"{peer}/arrivals", timeout=30).json()
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()
        engine.dispose()
    latencies = sorted(arrivals[n] - t for n, t in created.items() if n in arrivals)
    p50, p99 = _percentile(latencies, 0.5) * 1000, _percentile(latencies, 0.99) * 1000
    label = LABELS[kind]
    runs = reports["throughput"]
    total = sum(sent for sent, _, _ in runs) / max(elapsed for _, elapsed, _ in runs)
    cpu_us = sum(cpu for _, _, cpu in runs) / max(1, sum(sent for sent, _, _ in runs)) * 1e6
    if processes == 1:
        return [Figures(label, total, p50, p99, offered, cpu_us)]
    figures = [
        Figures(f"{label} #{i + 1}/{processes}", sent / elapsed, cpu_us=cpu / max(1, sent) * 1e6)
        for i, (sent, elapsed, cpu) in enumerate(runs)
    ]
    return [*figures, Figures(f"{label} x{processes} total", total, p50, p99, offered, cpu_us)]


def run(
    messages: int = 5000,
    rate: int = 1000,
    seconds: float = 5.0,
    database_url: str | None = None,
    processes: int = 1,
    paths: tuple[str, ...] = tuple(SENDERS),
) -> list[Figures]:
    """Each path in `paths`, on a fresh outbox. `database_url` (default: DATABASE_URL if it is PostgreSQL, else a
    temporary SQLite file); `processes` dispatchers per fast path (PostgreSQL only; the reference always runs
    one)."""
    database_url = database_url or os.environ.get("DATABASE_URL")
    if database_url and make_url(database_url).get_backend_name() != "postgresql":
        database_url = None  # never the application's own SQLite file
    if processes > 1 and not database_url:
        raise ValueError("--processes > 1 needs PostgreSQL (SKIP LOCKED): pass --database-url or DATABASE_URL")
    os.environ.setdefault("GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED", "false")
    port = _free_port()
    peer_process = multiprocessing.get_context("spawn").Process(target=serve_fcm, args=(port,), daemon=True)
    peer_process.start()
    peer = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.post(f"{peer}/token", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with tempfile.TemporaryDirectory() as directory:
            credentials = _service_account(Path(directory), f"{peer}/token")
            figures: list[Figures] = []
            for kind in paths:
                count = 1 if kind == "sync" else processes
                url = _fresh_outbox(database_url, Path(directory), kind)
                figures.extend(_run_path(kind, url, credentials, peer, messages, rate, seconds, count))
            return figures
    finally:
        peer_process.terminate()
        peer_process.join(timeout=5)


def table(figures: list[Figures]) -> str:
    lines = [
        f"{'path':<36} {'messages/s':>11} {'cpu µs/msg':>11} {'offered/s':>10} {'p50 ms':>9} {'p99 ms':>9}",
        "-" * 91,
    ]
    for f in figures:
        latency = (
            f"{f.offered or 0:>10,.0f} {f.p50_ms or 0:>9,.0f} {f.p99_ms or 0:>9,.0f}"
            if f.p99_ms is not None
            else f"{'':>10} {'':>9} {'':>9}"
        )
        cpu = f"{f.cpu_us:>11,.0f}" if f.cpu_us is not None else f"{'':>11}"
        lines.append(f"{f.path:<36} {f.throughput:>11,.0f} {cpu} {latency}")
    lines.append("floors: >= 5,000 messages/s per process; p99 <= 1,000 ms at 1,000 messages/s offered")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """`python -m beforeservice.bench.notify`: the same as `beforeservice bench notify`, with every option."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=5000, help="notifications for the throughput run")
    parser.add_argument("--rate", type=int, default=1000, help="messages/s offered in the latency run")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the latency run")
    parser.add_argument("--database-url", default=None, help="PostgreSQL outbox (default: DATABASE_URL, else SQLite)")
    parser.add_argument("--processes", type=int, default=1, help="dispatchers per fast path (PostgreSQL only)")
    parser.add_argument("--paths", default=",".join(SENDERS), help=f"comma-separated, of: {', '.join(SENDERS)}")
    args = parser.parse_args(argv)
    paths = tuple(p.strip() for p in args.paths.split(",") if p.strip())
    if unknown := set(paths) - set(SENDERS):
        parser.error(f"unknown path(s): {', '.join(sorted(unknown))}")
    from beforeservice.bench.rules import machine

    print(f"machine: {machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    figures = run(args.messages, args.rate, args.seconds, args.database_url, args.processes, paths)
    print(table(figures))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
