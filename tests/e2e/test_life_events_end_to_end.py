"""Life after birth, on real parts: the 60-day retroactive window passes and nothing expires (the scheduler's real
expiry job), the first birthday corrects an amount (the scheduler's real milestone job → Kafka → worker), a move
costs a municipal grant, an application closes the loop, a status change the lifecycle forbids is dead-lettered,
and so is a death nobody knew of."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from kafka import KafkaConsumer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.broker import EmbeddedBroker
from beforeservice.scheduler import _expire_job, _milestones_job
from entitlements.persistence.tables import EntitlementRow
from events.cloudevents import CloudEvent
from events.producer import AgencyProducer
from events.topics import DEAD_LETTERS
from rules_engine.periods import next_working_day
from tests.conftest import Component, agency_key, wait_for
from tests.support.births import birth_event, seed_household

pytestmark = pytest.mark.integration


def offers(sessions: sessionmaker[Session], benefit: str) -> list[EntitlementRow]:
    with sessions() as session:
        return list(session.scalars(select(EntitlementRow).where(EntitlementRow.benefit_id == benefit)))


def test_milestone_move_application_and_unknown_death(
    broker: EmbeddedBroker, sessions: sessionmaker[Session], database_url: str, worker: Component
) -> None:
    today = date.today()
    born = today.replace(year=today.year - 1) if (today.month, today.day) != (2, 29) else today - timedelta(365)
    zone = "Asia/Seoul"
    seed_household(sessions, "hh-park", ["m-park", "f-park"], "41110", date(2015, 1, 1))
    producer = AgencyProducer(broker.bootstrap_servers)
    producer.send(
        birth_event(
            mother="m-park",
            father="f-park",
            child="c-park",
            birth_order=2,
            born=born.isoformat(),
            registered=(born + timedelta(days=3)).isoformat(),
        )
    )
    producer.flush()
    wait_for(lambda: offers(sessions, "parental_benefit"), what="the birth processed")
    [original] = offers(sessions, "parental_benefit")
    assert original.amount_krw == 1_000_000
    # 아동수당법 제10조제2항: 60 days counting the birth day, ending on a working day (민법 제161조)
    window_end = next_working_day(born + timedelta(days=59))
    assert original.retroactive_until == window_end and original.deadline_kind == "entitlement_ends"

    # The scheduler's own daily expiry job, on its last day and the day after: the right stands, nothing expires.
    for day in (window_end, window_end + timedelta(days=1), today - timedelta(days=1)):
        _expire_job(database_url, zone, today=day.isoformat())
        assert offers(sessions, "parental_benefit")[0].status in ("matched", "notified"), day
        assert offers(sessions, "child_allowance")[0].status in ("matched", "notified"), day

    # The scheduler's own milestone job finds the first birthday and emits it; the worker corrects the amount.
    _milestones_job(database_url, broker.bootstrap_servers, zone, today=today.isoformat())
    wait_for(lambda: len(offers(sessions, "parental_benefit")) == 2, what="the corrected parental benefit")
    by_id = {o.id: o for o in offers(sessions, "parental_benefit")}
    corrected = next(o for o in by_id.values() if o.corrects_id == original.id)
    assert corrected.amount_krw == 500_000 and corrected.status in ("matched", "notified")
    assert by_id[original.id].status == "retracted"
    _milestones_job(database_url, broker.bootstrap_servers, zone, today=today.isoformat())  # deduplicated downstream
    _expire_job(database_url, zone, today=today.isoformat())
    assert {o.id: o.status for o in offers(sessions, "parental_benefit")}[corrected.id] in ("matched", "notified")

    # Moving from Suwon to Seocho costs the Suwon grant; national offers stay.
    move = CloudEvent(
        id="move-1",
        source="/agencies/mois/registry/11650",
        specversion="1.0",
        type="kr.go.mois.address.moved",
        data={
            "movers": ["m-park", "f-park", "c-park"],
            "from_municipality_code": "41110",
            "to_municipality_code": "11650",
            "moved_on": today.isoformat(),
            "registered_on": today.isoformat(),
        },
    )
    producer.send(move)
    # An agency closes the loop for the child allowance (the worker believes it: MOHW registered that source).
    agency_key(database_url, "mohw", ("kr.go.mohw.*",), ("/agencies/mohw/",))
    producer.send(
        CloudEvent(
            id="app-1",
            source="/agencies/mohw/bokjiro",
            specversion="1.0",
            type="kr.go.mohw.application.received",
            subject="m-park",
            data={"benefit_id": "child_allowance", "citizen_id": "m-park", "received_on": today.isoformat()},
        )
    )
    # MOHW grants the allowance (ordered after the application: the same partition key as the household's events).
    producer.send(
        CloudEvent(
            id="grant-1",
            source="/agencies/mohw/bokjiro",
            specversion="1.0",
            type="kr.go.mohw.benefit.granted",
            subject="m-park",
            data={"benefit_id": "child_allowance", "citizen_id": "m-park", "granted_on": today.isoformat()},
        )
    )
    # Suwon grants the birth grant we retracted at the move: retracted → granted is a transition the lifecycle
    # forbids, so that event is dead-lettered with the reason and nothing of it is written.
    agency_key(database_url, "suwon", ("kr.go.suwon.*",), ("/agencies/suwon/",))
    producer.send(
        CloudEvent(
            id="suwon-grant-1",
            source="/agencies/suwon/welfare",
            specversion="1.0",
            type="kr.go.suwon.benefit.granted",
            subject="m-park",
            data={"benefit_id": "suwon_birth_grant", "citizen_id": "m-park", "granted_on": today.isoformat()},
        )
    )
    # A death for someone we never heard of contradicts the profile store: dead-lettered with the reason.
    producer.send(
        CloudEvent(
            id="death-1",
            source="/agencies/mois/registry/41110",
            specversion="1.0",
            type="kr.go.mois.death.registered",
            data={
                "deceased": {"id": "nobody", "birth_date": "1940-01-01", "death_date": today.isoformat()},
                "municipality_code": "41110",
                "registered_on": today.isoformat(),
            },
        )
    )
    producer.flush()
    producer.close()

    wait_for(lambda: offers(sessions, "suwon_birth_grant")[0].status == "retracted", what="the Suwon grant retracted")
    wait_for(lambda: offers(sessions, "child_allowance")[0].status == "granted", what="the application and grant")
    assert offers(sessions, "first_meeting_voucher")[0].status in ("matched", "notified")

    consumer = KafkaConsumer(
        DEAD_LETTERS, bootstrap_servers=broker.bootstrap_servers, auto_offset_reset="earliest", consumer_timeout_ms=2000
    )
    letters: list[dict[str, str]] = []

    def drain() -> list[dict[str, str]]:
        letters.extend(json.loads(m.value) for m in consumer)
        return letters

    wait_for(
        lambda: len(drain()) >= 2,
        timeout=60,
        what="the dead letters of the forbidden transition and the unknown death",
    )
    consumer.close()
    reasons = [letter["reason"] for letter in letters]
    assert any("unknown to the profile store" in r for r in reasons), reasons
    [forbidden] = [r for r in reasons if "forbidden status change" in r]
    assert "suwon_birth_grant" in forbidden and "is retracted; it cannot become granted" in forbidden, forbidden
    assert offers(sessions, "suwon_birth_grant")[0].status == "retracted"  # never written
