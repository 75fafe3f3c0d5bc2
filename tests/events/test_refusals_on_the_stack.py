"""On the real API and the real broker: implausible dates and look-alike identities are refused (issue 11: C2's
original attack, M3), and a dead letter gives back the refused bytes exactly, RRNs masked (M7)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaProducer
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.broker import EmbeddedBroker
from entitlements.persistence.tables import ProcessedEventRow
from events.topics import LIFE_EVENTS
from tests.conftest import Component, migrated
from tests.support.births import birth_event
from tests.support.dead_letters import dead_letters

pytestmark = pytest.mark.integration
RRN = b"900101-2234567"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return migrated(f"sqlite:///{tmp_path}/beforeservice.db")  # what is refused does not depend on the database


def structured(**changes: Any) -> dict[str, Any]:
    event = json.loads(birth_event(mother="m-stack", child="c-stack", event_id="birth-1").to_structured())
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        target = event
        for part in path:
            target = target[part]
        target[last] = value
    return event


def post(api: httpx.Client, event: dict[str, Any]) -> httpx.Response:
    return api.post("/v1/events", content=json.dumps(event), headers={"content-type": "application/cloudevents+json"})


def test_the_api_refuses_a_birth_in_9999_and_the_same_event_with_a_trailing_newline(api: httpx.Client) -> None:
    attack = post(api, structured(data__child__birth_date="9999-12-01", data__registered_on="9999-12-05"))
    assert attack.status_code == 422, attack.text
    assert attack.json()["errors"][0]["field"] == "data.child.birth_date"
    for field, value in (("data__birth_order", "1"), ("data__child__birth_date", 20240301.0)):
        refused = post(api, structured(**{field: value}))
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field.replace("__", ".")

    # A child id every other contract refuses (a leading digit): the birth contract refuses it too (one PersonId).
    foreign = post(api, structured(data__child__id="7c-stack", subject="7c-stack"))
    assert foreign.status_code == 422, foreign.text
    assert foreign.json()["errors"][0]["field"] == "data.child.id"

    assert post(api, structured()).status_code == 202
    for attribute, value in (("id", "birth-1\n"), ("source", "/agencies/mois/registry/41110\n")):
        again = post(api, structured(**{attribute: value}))  # before: 202, a second event processed again
        assert 400 <= again.status_code < 500, again.text
        assert again.json()["errors"][0]["field"] == attribute


def test_kafka_dead_letters_keep_every_refused_byte_and_a_trailing_newline_is_not_a_second_event(
    broker: EmbeddedBroker, sessions: sessionmaker[Session], worker: Component
) -> None:
    good = json.dumps(structured()).encode()
    invalid_utf8 = b'\xff\xfe{"id": "' + RRN + b'", "note": "\xc3\x28 \xed\xa0\x80"}\xe2\x82'
    records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]]]] = [
        (b"m-stack", good, []),
        (b"m-stack", json.dumps(structured(id="birth-1\n")).encode(), []),
        (b"m-stack", json.dumps(structured(source="/agencies/mois/registry/41110\n")).encode(), []),
        (b"m-stack", json.dumps(structured(data__child__birth_date="9999-12-01")).encode(), []),
        (b"m-stack", json.dumps(structured(data__child__id="7c-stack", subject="7c-stack")).encode(), []),
        (b"\xfe" + RRN + b"\x80", invalid_utf8, [("trace", b"\x00\xff" + RRN)]),
    ]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers, acks="all")
    for key, value, headers in records:
        producer.send(LIFE_EVENTS, key=key, value=value, headers=headers)
    producer.flush()
    producer.close()

    letters = dead_letters(broker.bootstrap_servers, expected=5)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEventRow)) == 1  # before: 3
    by_value = {base64.b64decode(letter["value_b64"]): letter for letter in letters}
    masked = invalid_utf8.replace(RRN, b"######-#######")
    assert masked in by_value, "the invalid UTF-8 record must come back byte for byte, its RRN masked"
    letter = by_value[masked]
    assert base64.b64decode(letter["key_b64"]) == b"\xfe######-#######\x80"
    assert [(name, base64.b64decode(v)) for name, v in letter["headers"]] == [("trace", b"\x00\xff######-#######")]
    assert by_value[records[1][1]]["errors"][0]["field"] == "id"
    assert by_value[records[2][1]]["errors"][0]["field"] == "source"
    assert by_value[records[3][1]]["errors"][0]["field"] == "data.child.birth_date"
    assert by_value[records[4][1]]["errors"][0]["field"] == "data.child.id"
