"""What every fault test needs: a known stream of births, a worker that can be killed, and the ledger that
compares what went in (events) with what came out (processed events, entitlements, notifications, FCM pushes).

Every birth is a new household with a unique mother, so what it must produce depends only on its template
(municipality, birth order, father or not): the expected offers per template come from the real processor, in
this process, on a scratch SQLite database — a reference computed in the same run, not a number written here.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.bootstrap import life_event_processor
from beforeservice.catalog_watch import CatalogWatch
from beforeservice.database import make_engine, session_factory, upgrade
from entitlements import CATALOG_DIR
from entitlements.batch import Record
from entitlements.persistence.tables import EntitlementRow, ProcessedEventRow
from events.privacy import Pseudonymizer
from events.topics import LIFE_EVENTS
from notifiers.rendering import NotificationTemplates
from notifiers.tables import ConsentRow, DeviceRow, NotificationRow
from tests.conftest import RUNNING, Component, wait_for
from tests.support.fcm_server import LocalFcmServer

# The full sizes run in `make test-faults`; `make test` sets FAULT_EVENTS lower to stay within CI's budget.
EVENTS = int(os.environ.get("FAULT_EVENTS", "50000"))
BIRTH = "kr.go.mois.birth.registered"
# (municipality, birth order, father registered too): Suwon, Haenam, Seocho, Gangnam, Yongin; 1st-3rd child.
TEMPLATES: tuple[tuple[str, int, bool], ...] = (
    ("41110", 2, True),
    ("46820", 1, False),
    ("11650", 1, True),
    ("11680", 3, True),
    ("41463", 2, False),
    ("41110", 1, False),
)


@dataclass(frozen=True)
class Birth:
    key: bytes
    value: bytes
    event_id: str
    mother: str
    father: str | None
    template: int


def births(count: int, seed: int, tag: str = "") -> list[Birth]:
    """`count` births, each a new household keyed (and so partitioned) by its mother."""
    rng = random.Random(seed)
    run = f"{tag}{seed}"
    out = []
    for i in range(count):
        template = rng.randrange(len(TEMPLATES))
        municipality, order, with_father = TEMPLATES[template]
        mother, child = f"m-{run}-{i}", f"c-{run}-{i}"
        father = f"f-{run}-{i}" if with_father else None
        event_id = str(uuid.UUID(int=rng.getrandbits(128)))
        parents = [{"id": mother, "role": "mother"}] + ([{"id": father, "role": "father"}] if father else [])
        event = {
            "specversion": "1.0",
            "id": event_id,
            "source": f"/agencies/mois/registry/{municipality}",
            "type": BIRTH,
            "time": "2024-03-05T09:30:00Z",
            "subject": child,
            "data": {
                "child": {"id": child, "birth_date": "2024-03-01"},
                "parents": parents,
                "birth_order": order,
                "municipality_code": municipality,
                "registered_on": "2024-03-05",
            },
        }
        out.append(Birth(mother.encode(), json.dumps(event).encode(), event_id, mother, father, template))
    return out


def expected_offers() -> dict[int, int]:
    """Offers each template must produce, from the real processor on a scratch database (the reference)."""
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / f"fault-reference-{uuid.uuid4().hex}.db"
    engine = make_engine(f"sqlite:///{scratch}")
    upgrade(engine)
    processor = life_event_processor(
        session_factory(engine),
        CatalogWatch(CATALOG_DIR).current,
        NotificationTemplates(),
        Pseudonymizer(b"dev-only-pseudonym-key-change-me-0123456789"),
    )
    samples = births(len(TEMPLATES) * 20, seed=424242, tag="ref")
    first = {b.template: b for b in reversed(samples)}
    assert set(first) == set(range(len(TEMPLATES))), "the reference sample must cover every template"
    found: dict[int, int] = {}
    for template, birth in first.items():
        processor.process([Record(LIFE_EVENTS, 0, template, birth.key, birth.value, [])])
        with session_factory(engine)() as session:
            found[template] = session.scalar(
                select(func.count()).select_from(EntitlementRow).where(EntitlementRow.event_id == birth.event_id)
            )
    engine.dispose()
    scratch.unlink(missing_ok=True)
    assert all(found.values()), f"every template must match something: {found}"
    return found


def births_to_registered_mothers(
    sessions: sessionmaker[Session], seed: int, count: int | None = None
) -> tuple[list[Birth], dict[int, int]]:
    """The stream a fault test feeds (every mother with a phone and push consent) and the offers each of its
    templates must produce."""
    stream = births(EVENTS if count is None else count, seed=seed)
    register_mothers(sessions, stream)
    return stream, expected_offers()


def register_mothers(sessions: sessionmaker[Session], stream: list[Birth]) -> None:
    """A phone and push consent for every mother (fathers stay inbox-only), in bulk."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        for start in range(0, len(stream), 5000):
            chunk = stream[start : start + 5000]
            session.execute(
                insert(DeviceRow),
                [
                    {"token": f"t-{b.mother}", "citizen_id": b.mother, "platform": "android", "last_refreshed_at": now}
                    for b in chunk
                ],
            )
            session.execute(
                insert(ConsentRow),
                [
                    {
                        "citizen_id": b.mother,
                        "category": "childbirth_childcare",
                        "channel": "push",
                        "text_version": "2024-01",
                        "granted_at": now,
                        "withdrawn_at": None,
                    }
                    for b in chunk
                ],
            )


def producer(bootstrap: str, **options: Any) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024, **options)


def produce(bootstrap: str, stream: list[Birth], pace_per_second: float | None = None) -> None:
    """Put the births on the topic, optionally at a steady pace (so that faults happen while events flow)."""
    out = producer(bootstrap)
    started = time.monotonic()
    for i, birth in enumerate(stream):
        out.send(LIFE_EVENTS, key=birth.key, value=birth.value)
        if pace_per_second and i % 500 == 499:
            ahead = (i + 1) / pace_per_second - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    out.flush(timeout=120)
    out.close()


def fault_env(engine_env: dict[str, str]) -> dict[str, str]:
    """The engine's environment with nothing holding pushes back: quiet hours off (start = end)."""
    return {
        **engine_env,
        "QUIET_HOURS_START": "0",
        "QUIET_HOURS_END": "0",
        "PUSH_BUDGET_PER_WEEK": "100",
        "WORKER_BATCH_SECONDS": "0.2",
        # Faust's own settings (read from the environment): a SIGKILLed member leaves the group after 6 s
        # instead of 60 s, so a restarted worker is not kept waiting for a rebalance a minute at each kill.
        "BROKER_SESSION_TIMEOUT": "6",
        "BROKER_HEARTBEAT_INTERVAL": "1",
        "BROKER_REBALANCE_TIMEOUT": "10",
    }


class Worker:
    """A `python -m beforeservice worker` process that tests may SIGKILL and start again."""

    def __init__(self, env: dict[str, str], log_dir: Path, name: str = "worker") -> None:
        self.env, self.log_dir, self.name = env, log_dir, name
        self.starts = 0
        self.component: Component | None = None

    def start(self) -> None:
        self.starts += 1
        self.component = Component("worker", self.env, self.log_dir / f"{self.name}-{self.starts}")

    def kill(self) -> None:
        """kill -9: no shutdown hook, no offset commit, no rollback but the database's own."""
        assert self.component is not None
        if self.component in RUNNING:
            RUNNING.remove(self.component)
        self.component.process.send_signal(signal.SIGKILL)
        self.component.process.wait()

    def stop(self) -> None:
        if self.component is not None:
            self.component.stop()

    def tail(self) -> str:
        return self.component.tail() if self.component else ""


def processed_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(ProcessedEventRow)) or 0)


def undispatched(sessions: sessionmaker[Session]) -> int:
    """Notifications the outbox still owes: pending, or held (a transient FCM failure comes back in minutes)."""
    with sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(NotificationRow)
                .where(NotificationRow.dispatch_status.in_(("pending", "held")))
            )
            or 0
        )


def wait_until_done(sessions: sessionmaker[Session], count: int, timeout: float = 1800) -> None:
    wait_for(lambda: processed_count(sessions) >= count, timeout=timeout, interval=1, what=f"{count} events processed")
    wait_for(lambda: undispatched(sessions) == 0, timeout=timeout, interval=1, what="the outbox drained")


@dataclass
class Ledger:
    """What came out, compared with what went in. Every figure named here must be zero."""

    events: int
    processed: int = 0
    lost_events: int = 0
    unexpected_events: int = 0
    lost_matches: int = 0
    extra_matches: int = 0
    notifications: int = 0
    missing_notifications: int = 0
    duplicate_notifications: int = 0
    pushes_received: int = 0
    pushed_notifications: int = 0
    unpushed_notifications: int = 0
    duplicate_pushes: int = 0  # one notification delivered as two different pushes (different collapse keys)
    resent_pushes: int = 0  # the same push again with its collapse key (the device replaces it): printed, not zero
    offers: int = 0
    figures: dict[str, float] = field(default_factory=dict)

    ZEROS = (
        "lost_events",
        "unexpected_events",
        "lost_matches",
        "extra_matches",
        "missing_notifications",
        "duplicate_notifications",
        "unpushed_notifications",
        "duplicate_pushes",
    )

    def print(self, title: str) -> None:
        shown = {k: v for k, v in self.__dict__.items() if k != "figures"}
        print(f"\n== {title} ==")
        for name, value in {**shown, **self.figures}.items():
            print(f"  {name:26} {value:,.2f}" if isinstance(value, float) else f"  {name:26} {value:,}")

    def assert_zeros(self) -> None:
        broken = {name: getattr(self, name) for name in self.ZEROS if getattr(self, name)}
        assert not broken, f"guarantees broken: {broken}"


def ledger(
    sessions: sessionmaker[Session], stream: list[Birth], offers_of: dict[int, int], fcm: LocalFcmServer
) -> Ledger:
    result = Ledger(events=len(stream))
    with sessions() as session:
        processed = {r.event_id for r in session.execute(select(ProcessedEventRow.event_id))}
        matches = Counter(r.event_id for r in session.execute(select(EntitlementRow.event_id)))
        notes = list(
            session.execute(select(NotificationRow.id, NotificationRow.recipient_id, NotificationRow.event_id))
        )
    sent_ids = {b.event_id for b in stream}
    result.processed = len(processed)
    result.lost_events = len(sent_ids - processed)
    result.unexpected_events = len(processed - sent_ids)
    result.offers = sum(matches.values())
    for birth in stream:
        have, want = matches.get(birth.event_id, 0), offers_of[birth.template]
        result.lost_matches += max(0, want - have)
        result.extra_matches += max(0, have - want)
    per_recipient_event = Counter((n.recipient_id, n.event_id) for n in notes)
    result.notifications = len(notes)
    result.duplicate_notifications = sum(c - 1 for c in per_recipient_event.values())
    wanted = {(b.mother, b.event_id) for b in stream} | {(b.father, b.event_id) for b in stream if b.father}
    result.missing_notifications = len(wanted - set(per_recipient_event))
    mothers_notes = {n.id for n in notes if n.recipient_id.startswith("m-")}
    received = list(fcm.received)
    keys: dict[str, set[str]] = {}
    for message in received:
        keys.setdefault(message["data"]["notification_id"], set()).add(message["android"]["collapse_key"])
    result.pushes_received = len(received)
    result.pushed_notifications = len(keys)
    result.unpushed_notifications = len(mothers_notes - set(keys))
    if result.unpushed_notifications:  # say why, so that a failure can be read without the database
        with sessions() as session:
            states = Counter(
                (r.dispatch_status, r.hold_reason)
                for r in session.execute(
                    select(NotificationRow.id, NotificationRow.dispatch_status, NotificationRow.hold_reason)
                )
                if r.id in mothers_notes - set(keys)
            )
        result.figures.update({f"unpushed_{status}_{reason}": n for (status, reason), n in states.items()})
    result.duplicate_pushes = sum(len(k) - 1 for k in keys.values()) + len(set(keys) - mothers_notes)
    result.resent_pushes = len(received) - len(keys)
    return result
