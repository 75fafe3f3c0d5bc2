"""Degraded mode: the broker is unreachable. The ingestion API answers 503 with Retry-After and keeps nothing of
an event it could not put on the log; once the broker is back the agency's retry is accepted as new."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import func, select

from beforeservice.broker import EmbeddedBroker, ensure_topics
from beforeservice.console.tables import IngestedEventRow
from beforeservice.database import make_engine, session_factory
from events.topics import LIFE_EVENTS
from tests.conftest import PARTITIONS, wait_for
from tests.support.births import as_json, birth_event

pytestmark = pytest.mark.integration
STRUCTURED = {"content-type": "application/cloudevents+json"}


def post(api: httpx.Client, event: dict[str, Any]) -> httpx.Response:
    return api.post("/v1/events", content=json.dumps(event), headers=STRUCTURED)


def ingested(database_url: str, event_id: str) -> int:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(IngestedEventRow).where(IngestedEventRow.event_id == event_id)
                )
                or 0
            )
    finally:
        engine.dispose()


def on_the_log(bootstrap: str, event_id: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, consumer_timeout_ms=3000)
    try:
        partitions = [TopicPartition(LIFE_EVENTS, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        return sum(1 for record in consumer if json.loads(record.value)["id"] == event_id)
    finally:
        consumer.close()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_broker_down_means_503_with_retry_after_and_nothing_kept(
    api: httpx.Client, broker: EmbeddedBroker, database_url: str
) -> None:
    assert post(api, as_json(birth_event(mother="m-up", event_id="before-outage"))).status_code == 202

    broker.stop()
    event = as_json(birth_event(mother="m-down", event_id=f"during-outage-{uuid.uuid4().hex[:6]}"))
    down = post(api, event)  # within the client's 30 s: the API does not hang on a broker that is gone
    assert down.status_code == 503, down.text
    assert int(down.headers["retry-after"]) > 0
    assert down.headers["content-type"].startswith("application/problem+json")
    assert ingested(database_url, event["id"]) == 0  # not claimed: the retry is taken as new

    broker.start()  # back on the same address (tansu keeps nothing: its topics are made again)
    ensure_topics(broker.bootstrap_servers, PARTITIONS)

    def accepted() -> bool:
        answer = post(api, event)
        assert answer.status_code in (202, 503), answer.text
        return answer.status_code == 202

    wait_for(accepted, timeout=120, interval=1.0, what="the retry accepted once the broker is back")
    assert ingested(database_url, event["id"]) == 1
    # On the log: the retry, and possibly the copy the timed-out send had queued (aiokafka cannot withdraw it; it
    # went out when the broker came back). Same source and id: the worker processes it once (processed_events).
    assert on_the_log(broker.bootstrap_servers, event["id"]) in (1, 2)
