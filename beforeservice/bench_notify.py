"""`beforeservice bench notify`: outbox dispatcher throughput and outbox-to-accepted latency against a local
FCM-compatible peer in its own process (aiohttp), for the sync (send_each) and async (send_each_async) senders.

Prints figures; asserts nothing about time (benchmarks are not tests).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as clock
from pathlib import Path

import httpx
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.database import make_engine, session_factory, upgrade
from notifiers.fcm import FcmPushSender
from notifiers.fcm_async import AsyncFcmPushSender
from notifiers.outbox import dispatch_pending
from notifiers.policy import DispatchPolicy
from notifiers.tables import ConsentRow, DeviceRow, NotificationRow
from notifiers.timing import PushBudget, QuietHours

PROJECT = "before-service-bench"
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


def _queue(sessions: sessionmaker[Session], count: int, prefix: str) -> None:
    """`count` notifications, each to a consenting citizen with one device (one push each)."""
    now = datetime.now(UTC)
    people = [f"{prefix}-{i}" for i in range(count)]
    with sessions.begin() as session:
        session.execute(
            insert(DeviceRow),
            [{"token": f"tok-{p}", "citizen_id": p, "platform": "android", "last_refreshed_at": now} for p in people],
        )
        session.execute(
            insert(ConsentRow),
            [
                {
                    "citizen_id": p,
                    "category": "childbirth_childcare",
                    "channel": "push",
                    "text_version": "bench",
                    "granted_at": now,
                    "withdrawn_at": None,
                }
                for p in people
            ],
        )
        session.execute(
            insert(NotificationRow),
            [
                {
                    "id": str(uuid.uuid4()),
                    "recipient_id": p,
                    "household_id": f"hh-{p}",
                    "event_source": "/bench",
                    "event_id": p,
                    "event_type": "kr.go.mois.birth.registered",
                    "category": "childbirth_childcare",
                    "offer_ids": [],
                    "language": "ko",
                    "lock_screen_title": "출산을 축하합니다",
                    "lock_screen_body": "혜택을 받으실 수 있어요. 앱에서 확인해 주세요.",
                    "message_ko": "",
                    "message_en": "",
                    "dispatch_status": "pending",
                    "dispatch_attempts": 0,
                    "created_at": datetime.now(UTC),
                }
                for p in people
            ],
        )


def _drain(sessions: sessionmaker[Session], sender: FcmPushSender, stop: Callable[[], bool]) -> int:
    sent = 0
    while True:
        result = dispatch_pending(sessions, sender, 500, policy=_POLICY)
        sent += result.messages
        if result.notifications == 0:
            if stop():
                return sent
            time.sleep(0.005)


def _throughput(sessions: sessionmaker[Session], sender: FcmPushSender, count: int, tag: str) -> float:
    _queue(sessions, count, f"t-{tag}")
    started = time.perf_counter()
    sent = _drain(sessions, sender, lambda: True)
    return sent / (time.perf_counter() - started)


def _latency(
    sessions: sessionmaker[Session], sender: FcmPushSender, peer: str, rate: int, seconds: float, tag: str
) -> tuple[float, float, float]:
    """Offer `rate` notifications a second for `seconds` (20 ms ticks) while dispatching; p50/p99 of the time
    from commit to the outbox until the FCM peer accepted it."""
    created: dict[str, float] = {}
    done = threading.Event()
    elapsed: list[float] = []

    def offer() -> None:
        per_tick, ticks = max(1, rate // 50), int(seconds * 50)
        start = time.time()
        for tick in range(ticks):
            prefix = f"l-{tag}-{tick}"
            _queue(sessions, per_tick, prefix)
            stamp = time.time()
            with sessions() as session:
                for row in (
                    session.query(NotificationRow.id)
                    .filter(NotificationRow.event_source == "/bench")
                    .filter(NotificationRow.recipient_id.like(f"{prefix}-%"))
                ):
                    created[row.id] = stamp
            time.sleep(max(0.0, start + (tick + 1) / 50 - time.time()))
        elapsed.append(time.time() - start)  # the rate actually offered, should the producer fall behind
        done.set()

    producer = threading.Thread(target=offer)
    producer.start()
    _drain(sessions, sender, done.is_set)
    producer.join()
    arrivals = httpx.get(f"{peer}/arrivals", timeout=30).json()
    latencies = sorted(arrivals[n] - t for n, t in created.items() if n in arrivals)
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return len(created) / elapsed[0], p50, p99


def run(messages: int = 5000, rate: int = 1000, seconds: float = 5.0) -> list[Figures]:
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
            figures = []
            for name, cls in (
                ("sync send_each (reference)", FcmPushSender),
                ("async send_each_async", AsyncFcmPushSender),
            ):
                engine = make_engine(f"sqlite:///{directory}/{cls.__name__}.db")
                upgrade(engine)
                sessions = session_factory(engine)
                with cls(credentials, project_id=PROJECT, endpoint=peer, app_name=f"bench-{cls.__name__}") as sender:
                    _throughput(sessions, sender, 500, f"warm-{cls.__name__}")
                    throughput = _throughput(sessions, sender, messages, cls.__name__)
                    offered, p50, p99 = _latency(sessions, sender, peer, rate, seconds, cls.__name__)
                figures.append(Figures(name, throughput, p50, p99, offered))
                engine.dispose()
            return figures
    finally:
        peer_process.terminate()
        peer_process.join(timeout=5)


def table(figures: list[Figures]) -> str:
    lines = [
        f"{'path':<28} {'messages/s':>11} {'offered/s':>10} {'p50 ms':>9} {'p99 ms':>9}",
        "-" * 71,
    ]
    for f in figures:
        lines.append(
            f"{f.path:<28} {f.throughput:>11,.0f} {f.offered or 0:>10,.0f} "
            f"{f.p50_ms or 0:>9,.0f} {f.p99_ms or 0:>9,.0f}"
        )
    lines.append("floors: >= 5,000 messages/s per process; p99 <= 1,000 ms at 1,000 messages/s offered")
    return "\n".join(lines)
