"""Only the agencies the catalog names for a benefit may close the loop on it (issue #11, H2), on the real stack:
the API and the worker as processes, tansu, SQLite or PostgreSQL.

The attack as the review ran it: the NHIS key sends `benefit.granted` for child_allowance, parental_benefit and a
KEPCO discount. Over HTTP each is refused 403 naming the benefit and never reaches the topic; straight into Kafka
each is dead-lettered with the reason. The offers stay open and their deadline reminders stay planned; the
agencies the catalog names (mohw, and ssis for 복지로 applications) still close them, on both paths.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from kafka import KafkaConsumer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.broker import EmbeddedBroker
from beforeservice.scheduler import _reminder_job
from entitlements.persistence.tables import EntitlementRow
from events.cloudevents import CloudEvent
from events.producer import AgencyProducer
from events.topics import DEAD_LETTERS, LIFE_EVENTS
from notifiers.reminders import job_id, plan_reminders
from notifiers.timing import SEOUL
from rules_engine.deadlines import DeadlineKind
from tests.conftest import Component, agency_key, wait_for
from tests.support.births import birth_event, seed_household

pytestmark = pytest.mark.integration
STRUCTURED = {"content-type": "application/cloudevents+json"}
ATTACKED = ("child_allowance", "parental_benefit", "kepco_birth_household_discount")
WITH_DEADLINES = ("child_allowance", "parental_benefit")  # their 60-day retroactive windows are reminded
STILL_OPEN = ("matched", "notified")
RETROACTIVE = DeadlineKind.RETROACTIVE_WINDOW


@pytest.fixture
def scheduler(database_url: str) -> Iterator[BackgroundScheduler]:
    running = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=database_url, tablename="scheduled_jobs")}, timezone="Asia/Seoul"
    )
    running.start(paused=True)
    yield running
    running.shutdown(wait=False)


def loop_event(agency: str, kind: str, benefit: str, citizen: str, source: str | None = None) -> CloudEvent:
    on = date.today().isoformat()
    data = {"benefit_id": benefit, "citizen_id": citizen}
    data.update({"received_on": on} if kind == "application.received" else {"granted_on": on})
    return CloudEvent(
        id=f"{agency}-{kind}-{benefit}-{uuid.uuid4().hex[:6]}",
        source=source or f"/agencies/{agency}/office",
        specversion="1.0",
        type=f"kr.go.{agency}.{kind}",
        subject=citizen,
        data=data,
    )


def statuses(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return {b: s for b, s in session.execute(select(EntitlementRow.benefit_id, EntitlementRow.status))}


def offer_ids(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return {b: i for b, i in session.execute(select(EntitlementRow.benefit_id, EntitlementRow.id))}


def read(bootstrap: str, topic: str) -> list[bytes]:
    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=2000, group_id=None
    )
    values = [m.value for m in consumer]
    consumer.close()
    return values


def test_only_the_catalogs_agencies_close_the_loop_over_http_and_kafka(
    broker: EmbeddedBroker,
    sessions: sessionmaker[Session],
    database_url: str,
    worker: Component,
    api: httpx.Client,
    scheduler: BackgroundScheduler,
) -> None:
    keys = {
        agency: agency_key(database_url, agency, (f"kr.go.{agency}.*",), (f"/agencies/{agency}/",))
        for agency in ("nhis", "mohw", "ssis", "kepco")
    }
    # A family in Suwon for years: the birth 50 days ago matches the national and KEPCO offers, with deadlines
    # (birth + 59 days) close enough for their D-3 reminders to be planned.
    born = date.today() - timedelta(days=50)
    seed_household(sessions, "hh-loop", ["m-loop", "f-loop"], "41117", date(2015, 1, 1))
    birth = birth_event(
        mother="m-loop",
        father="f-loop",
        child="c-loop",
        municipality="41117",
        born=born.isoformat(),
        registered=(born + timedelta(days=2)).isoformat(),
    )
    assert api.post("/v1/events", content=birth.to_structured(), headers=STRUCTURED).status_code == 202
    wait_for(lambda: set(ATTACKED) <= set(statuses(sessions)), what="the birth's offers")
    assert all(statuses(sessions)[b] in STILL_OPEN for b in ATTACKED), statuses(sessions)

    # HTTP: the NHIS key closing other agencies' benefits, both loop types.
    refused_ids = []
    for kind in ("benefit.granted", "application.received"):
        for benefit in ATTACKED:
            event = loop_event("nhis", kind, benefit, "m-loop")
            r = api.post("/v1/events", content=event.to_structured(), headers={**STRUCTURED, "x-api-key": keys["nhis"]})
            assert r.status_code == 403, r.text
            problem = r.json()
            assert r.headers["content-type"] == "application/problem+json"
            assert f"benefit '{benefit}'" in problem["detail"] and "nhis" in problem["detail"]
            assert problem["errors"][0]["field"] == "data.benefit_id"
            refused_ids.append(event.id)
    # ... and in a batch, per item.
    batch = [json.loads(loop_event("nhis", "benefit.granted", b, "m-loop").to_structured()) for b in ATTACKED]
    r = api.post(
        "/v1/events:batch",
        content=json.dumps(batch),
        headers={"content-type": "application/cloudevents-batch+json", "x-api-key": keys["nhis"]},
    )
    assert [x["status"] for x in r.json()["results"]] == [403, 403, 403], r.text
    refused_ids += [b["id"] for b in batch]

    # Kafka: the same attack by a producer writing to the topic directly, both loop types; and one that claims
    # MOHW's source but NHIS's type namespace, and one from a source no agency registered.
    producer = AgencyProducer(broker.bootstrap_servers)
    kafka_attacks = [
        loop_event("nhis", kind, b, "m-loop") for kind in ("benefit.granted", "application.received") for b in ATTACKED
    ]
    kafka_attacks.append(loop_event("nhis", "benefit.granted", "child_allowance", "m-loop", "/agencies/mohw/x"))
    kafka_attacks.append(loop_event("mohw", "benefit.granted", "child_allowance", "m-loop", "/agencies/mohwx/y"))
    for event in kafka_attacks:
        producer.send(event)
    producer.flush()

    def letters() -> list[dict[str, object]]:
        found = [json.loads(v) for v in read(broker.bootstrap_servers, DEAD_LETTERS)]
        return found if len(found) >= len(kafka_attacks) else []

    dead = wait_for(letters, timeout=60, what="every Kafka attack dead-lettered")
    assert len(dead) == len(kafka_attacks)
    by_reason = [str(letter["reason"]) for letter in dead]
    for benefit in ATTACKED:
        assert sum(f"benefit '{benefit}'" in reason and "'nhis'" in reason for reason in by_reason) == 2, by_reason
    assert any("'mohw' may not send 'kr.go.nhis.benefit.granted'" in r for r in by_reason), by_reason
    assert any("registered to no agency" in r for r in by_reason), by_reason

    # Nothing changed, nothing refused over HTTP reached the topic, and the reminders are still planned.
    after = statuses(sessions)
    assert all(after[b] in STILL_OPEN for b in ATTACKED), after  # the dispatcher may have notified them meanwhile
    on_topic = {json.loads(v)["id"] for v in read(broker.bootstrap_servers, LIFE_EVENTS)}
    assert on_topic.isdisjoint(refused_ids)
    ids = offer_ids(sessions)
    kwargs = {"database_url": database_url, "timezone": "Asia/Seoul"}
    plan_reminders(scheduler, sessions, _reminder_job, kwargs, datetime.now(UTC), (14, 3), SEOUL)
    planned = {job.id for job in scheduler.get_jobs()}
    assert {job_id(ids[b], 3, RETROACTIVE) for b in WITH_DEADLINES} <= planned, planned

    # The agencies the catalog names close the loop, both types on both paths: 복지로 (ssis) and MOHW over HTTP,
    # MOHW and KEPCO on Kafka.
    for agency, kind, benefit in (
        ("ssis", "application.received", "child_allowance"),
        ("mohw", "benefit.granted", "parental_benefit"),
    ):
        event = loop_event(agency, kind, benefit, "m-loop")
        r = api.post("/v1/events", content=event.to_structured(), headers={**STRUCTURED, "x-api-key": keys[agency]})
        assert r.status_code == 202, r.text
    producer.send(loop_event("mohw", "application.received", "first_meeting_voucher", "m-loop"))
    producer.send(loop_event("kepco", "benefit.granted", "kepco_birth_household_discount", "m-loop"))
    producer.flush()
    producer.close()
    expected = {
        "child_allowance": "applied",
        "parental_benefit": "granted",
        "first_meeting_voucher": "applied",
        "kepco_birth_household_discount": "granted",
    }

    def closed() -> bool:
        now = statuses(sessions)
        return {b: now[b] for b in expected} == expected

    wait_for(closed, what="the named agencies' loop events applied")
    assert len(read(broker.bootstrap_servers, DEAD_LETTERS)) == len(kafka_attacks)  # nothing more refused
    plan_reminders(scheduler, sessions, _reminder_job, kwargs, datetime.now(UTC), (14, 3), SEOUL)
    assert not {job_id(ids[b], 3, RETROACTIVE) for b in WITH_DEADLINES} & {job.id for job in scheduler.get_jobs()}
