"""`beforeservice rebuild` on the real stack: life events into tansu, the worker (which also dispatches) processes
them, the database's event-derived rows are wiped, the rebuild replays the topic, and the rows come back the
same — entitlements (ids, statuses, amounts, corrections), profiles, processed events and notifications — with
no push sent twice."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.bootstrap import push_sender
from beforeservice.dispatcher import dispatch_round
from beforeservice.rebuild import REBUILT
from beforeservice.settings import Settings
from entitlements.persistence.tables import CitizenRow, EntitlementRow, HouseholdRow, ProcessedEventRow
from events.cloudevents import CloudEvent
from events.producer import AgencyProducer
from notifiers.policy import DispatchPolicy
from notifiers.rendering import shared_templates
from notifiers.tables import DeliveryRow, NotificationRow, OutreachTaskRow
from tests.conftest import Component, Stack, agency_key, wait_for
from tests.support.births import birth_event, register_device

pytestmark = pytest.mark.integration

TODAY = date.today()
BORN = TODAY - timedelta(days=30)
REGISTERED = TODAY - timedelta(days=27)


def life_events() -> list[CloudEvent]:
    """Births in two municipalities, a duplicate, a correction, a move, a death, an application and its grant,
    and a death of someone unknown (refused)."""
    events = [
        birth_event(
            mother=f"m-{n}",
            father=f"f-{n}",
            child=f"c-{n}",
            birth_order=1 + n % 3,
            municipality="41110" if n <= 3 else "11650",
            born=BORN.isoformat(),
            registered=REGISTERED.isoformat(),
            event_id=f"birth-{n}",
        )
        for n in range(1, 6)
    ]
    events.append(events[0])  # the registry sent birth-1 twice
    events.append(  # the registry corrects birth 2's birth order under a new id
        birth_event(
            mother="m-2",
            father="f-2",
            child="c-2",
            birth_order=1,  # was 3
            born=BORN.isoformat(),
            registered=REGISTERED.isoformat(),
            event_id="birth-2-corrected",
        )
    )
    events.append(
        CloudEvent(
            id="move-3",
            source="/agencies/mois/registry/11650",
            specversion="1.0",
            type="kr.go.mois.address.moved",
            data={
                "movers": ["m-3", "f-3", "c-3"],
                "from_municipality_code": "41110",
                "to_municipality_code": "11650",
                "moved_on": TODAY.isoformat(),
                "registered_on": TODAY.isoformat(),
            },
        )
    )
    for died, household_key in (("f-4", "m-4"), ("nobody", "nobody")):
        events.append(
            CloudEvent(
                id=f"death-{died}",
                source="/agencies/mois/registry/11650",
                specversion="1.0",
                type="kr.go.mois.death.registered",
                subject=died,
                partitionkey=household_key,  # the household's partition: after its birth
                data={
                    "deceased": {"id": died, "birth_date": "1980-01-01", "death_date": TODAY.isoformat()},
                    "municipality_code": "11650",
                    "registered_on": TODAY.isoformat(),
                    **({"informant": {"id": "m-4", "relation": "spouse"}} if died == "f-4" else {}),
                },
            )
        )
    for kind, day in (("application.received", "received_on"), ("benefit.granted", "granted_on")):
        events.append(
            CloudEvent(
                id=f"{kind}-1",
                source="/agencies/mohw/bokjiro",
                specversion="1.0",
                type=f"kr.go.mohw.{kind}",
                subject="m-1",
                data={"benefit_id": "child_allowance", "citizen_id": "m-1", day: TODAY.isoformat()},
            )
        )
    return events


def snapshot(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """The event-derived state, row by row (timestamps aside: they say when a row was written)."""
    with sessions() as s:
        return {
            "entitlements": {
                e.id: (
                    e.benefit_id,
                    e.beneficiary_id,
                    e.household_id,
                    e.status,
                    e.eligibility,
                    e.amount_krw,
                    e.deadline,
                    e.deadline_kind,
                    e.corrects_id,
                    e.reason_ko,
                    e.evaluated_on,
                )
                for e in s.scalars(select(EntitlementRow))
            },
            "households": {
                h.id: (h.municipality_code, h.previous_municipality_code, h.resident_since)
                for h in s.scalars(select(HouseholdRow))
            },
            "citizens": {
                c.id: (c.household_id, c.role, c.birth_date, c.birth_order, c.deceased_on)
                for c in s.scalars(select(CitizenRow))
            },
            "processed": sorted(
                (p.source, p.event_id, p.type, p.household_id) for p in s.scalars(select(ProcessedEventRow))
            ),
            "notifications": {
                n.id: (n.recipient_id, n.event_id, n.category, sorted(n.offer_ids), n.message_ko, n.lock_screen_title)
                for n in s.scalars(select(NotificationRow))
            },
        }


def dispatch_states(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as s:
        return {n.id: n.dispatch_status for n in s.scalars(select(NotificationRow))}


def wipe(sessions: sessionmaker[Session]) -> None:
    """The event-derived tables emptied (a lost database, restored only for what the log does not hold)."""
    with sessions.begin() as s:
        for table in (DeliveryRow, OutreachTaskRow, NotificationRow, EntitlementRow, ProcessedEventRow):
            s.execute(delete(table))
        s.execute(delete(CitizenRow))
        s.execute(delete(HouseholdRow))


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_rebuild_from_the_log_yields_the_same_rows_and_pushes_nothing_again(stack: Stack) -> None:
    agency_key(stack.env["DATABASE_URL"], "mohw", ("kr.go.mohw.*",), ("/agencies/mohw/",))
    register_device(stack.sessions, "m-1", "token-m-1")  # m-1 is pushed to: a push sent twice would show
    events = life_events()
    producer = AgencyProducer(stack.broker.bootstrap_servers)
    for event in events[:5]:  # the births; the rest days later, as agencies would
        producer.send(event)
    producer.flush()
    worker = Component("worker", stack.env, stack.logs)
    try:
        wait_for(lambda: count(stack.sessions, ProcessedEventRow) == 5, what="the births processed")
        # and told, before the rest arrives (a correction decides against notified offers, as it would days later)
        wait_for(lambda: "pending" not in dispatch_states(stack.sessions).values(), what="the births notified")
        for event in events[5:]:
            producer.send(event)
        producer.flush()
        producer.close()
        wait_for(lambda: count(stack.sessions, ProcessedEventRow) == 10, what="every accepted event processed")
        wait_for(lambda: granted(stack.sessions), what="the application and the grant")
        wait_for(lambda: "pending" not in dispatch_states(stack.sessions).values(), what="the outbox dispatched")
        wait_for(lambda: stack.fcm.received, what="m-1's push accepted by FCM")
    finally:
        worker.stop()
    before, states_before = snapshot(stack.sessions), dispatch_states(stack.sessions)
    pushes_before = len(stack.fcm.received)
    statuses = {row[3] for row in before["entitlements"].values()}
    assert {"notified", "granted", "retracted"} <= statuses, statuses  # the run exercised the lifecycle
    assert any(row[8] for row in before["entitlements"].values())  # a correction replaced an offer
    assert before["citizens"]["f-4"][4] == TODAY and before["households"]["hh-m-3"][0] == "11650"

    wipe(stack.sessions)
    assert snapshot(stack.sessions)["entitlements"] == {}
    rebuilt = subprocess.run(
        [sys.executable, "-m", "beforeservice", "rebuild", "--batch-size", "4"],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert re.search(r"throughput: [\d,]+ events/s", rebuilt.stdout), rebuilt.stdout
    assert "12 records, 10 events processed, 1 duplicates skipped, 1 refused" in rebuilt.stdout, rebuilt.stdout

    after = snapshot(stack.sessions)
    for part in ("entitlements", "households", "citizens", "processed", "notifications"):
        assert differences(before[part], after[part]) == [], part
    # Delivery is not in the log: what was pushed (or put in the inbox) is marked, never claimed again; a notice
    # still held (a bereavement cooling-off) waits for its end again, once.
    states_after = dispatch_states(stack.sessions)
    for notification, state in states_before.items():
        expected = "pending" if state == "held" else state if state == "cancelled" else REBUILT
        assert states_after[notification] == expected, (notification, state, states_after[notification])

    again = subprocess.run(
        [sys.executable, "-m", "beforeservice", "rebuild"], env=stack.env, capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 1 and "rebuild only into an empty one" in again.stderr  # never over live rows

    # The dispatcher's own round over the rebuilt outbox (FCM configured, m-1's device registered): nothing goes.
    settings = Settings(
        database_url=stack.env["DATABASE_URL"],
        firebase_credentials=stack.env["FIREBASE_CREDENTIALS"],
        fcm_endpoint=stack.env["FCM_ENDPOINT"],
        quiet_hours_start=0,
        quiet_hours_end=0,
    )
    while dispatch_round(stack.sessions, push_sender(settings), DispatchPolicy.of(settings), shared_templates()):
        pass
    assert len(stack.fcm.received) == pushes_before
    assert snapshot(stack.sessions)["entitlements"] == before["entitlements"]


def count(sessions: sessionmaker[Session], table: Any) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def granted(sessions: sessionmaker[Session]) -> bool:
    with sessions() as s:
        statuses = s.scalars(
            select(EntitlementRow.status).where(
                EntitlementRow.benefit_id == "child_allowance", EntitlementRow.household_id == "hh-m-1"
            )
        ).all()
    return "granted" in statuses


def differences(before: Any, after: Any) -> list[Any]:
    """What differs, row by row (readable where `==` on the whole snapshot would be truncated)."""
    if isinstance(before, dict):
        return [
            (key, before.get(key), after.get(key))
            for key in before.keys() | after.keys()
            if before.get(key) != after.get(key)
        ]
    return [row for row in before if row not in after] + [row for row in after if row not in before]
