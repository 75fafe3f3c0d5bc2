"""Resident registration numbers: pseudonymised in their designated field, refused elsewhere, never at rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.broker import EmbeddedBroker
from entitlements.tables import CitizenRow
from events.errors import InvalidEvent
from events.privacy import Pseudonymizer, looks_like_rrn, mask
from events.producer import AgencyProducer
from events.topics import DEAD_LETTERS
from tests.conftest import Component, wait_for
from tests.support.births import birth_event

KEY = b"test-pseudonym-key-0123456789abcdef"
MOTHER_RRN = "900215-2345678"
RRN_DIGITS = MOTHER_RRN.replace("-", "")


def leaks(value: str) -> bool:
    """A plausible RRN (valid date and gender digit) or the test's own RRN digits anywhere in the text."""
    return looks_like_rrn(value) or RRN_DIGITS in value.replace("-", "")


def test_designated_field_becomes_a_stable_keyed_pseudonym() -> None:
    p = Pseudonymizer(KEY)
    data = p.protect({"parents": [{"rrn": MOTHER_RRN, "role": "mother"}]})
    pseudonym = data["parents"][0]["id"]
    assert pseudonym.startswith("rrn-") and MOTHER_RRN.replace("-", "") not in json.dumps(data)
    assert p.protect({"rrn": "9002152345678"})["id"] == pseudonym  # hyphen or not, same person
    assert Pseudonymizer(b"another-key-0123456789abcdef-0123").pseudonym(MOTHER_RRN) != pseudonym


def test_rrn_outside_its_field_is_refused_and_masked() -> None:
    with pytest.raises(InvalidEvent) as refused:
        Pseudonymizer(KEY).protect({"child": {"id": MOTHER_RRN}})
    assert refused.value.errors[0].field == "data.child.id"
    assert mask(f'{{"note": "{MOTHER_RRN}"}}'.encode()) == b'{"note": "######-#######"}'
    assert not looks_like_rrn("2024-03-01") and not looks_like_rrn("41110")


def _scan_database(sessions: sessionmaker[Session]) -> list[str]:
    hits = []
    with sessions() as session:
        for table in inspect(session.get_bind()).get_table_names():
            for row in session.execute(text(f'SELECT * FROM "{table}"')):
                hits += [f"{table}: {v}" for v in row if isinstance(v, str) and leaks(v)]
    return hits


def _read_topic(bootstrap: str, topic: str) -> list[str]:
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000)
    values = [r.value.decode(errors="replace") for r in consumer]
    consumer.close()
    return values


@pytest.mark.integration
def test_no_rrn_in_database_topics_or_logs_after_a_run(
    broker: EmbeddedBroker, sessions: sessionmaker[Session], worker: Component, engine_env: dict[str, str]
) -> None:
    engine_key = engine_env.get("PSEUDONYM_KEY", "dev-only-pseudonym-key-change-me-0123456789").encode()
    producer = AgencyProducer(broker.bootstrap_servers, pseudonymizer=Pseudonymizer(engine_key))
    event = birth_event(mother="placeholder", born="2024-03-01", registered="2024-03-04")
    data = dict(event.data)
    data["parents"] = [{"rrn": MOTHER_RRN, "role": "mother"}]
    producer.send(event.model_copy(update={"data": data, "subject": None}))
    with pytest.raises(InvalidEvent):  # our producer refuses an RRN outside its field before Kafka sees it
        producer.send(event.model_copy(update={"subject": MOTHER_RRN}))
    producer.flush()
    # An agency producer that skipped the check: the worker's decode is the last line of defence.
    leaked = event.model_copy(update={"id": "leaky", "subject": MOTHER_RRN})
    producer.send_raw(leaked.to_structured(), key=b"k")
    producer.flush()
    producer.close()

    pseudonym = Pseudonymizer(engine_key).pseudonym(MOTHER_RRN)

    def mother_known() -> bool:
        with sessions() as session:
            return session.scalar(select(CitizenRow.id).where(CitizenRow.id == pseudonym)) is not None

    wait_for(mother_known, what="the birth processed under the mother's pseudonym")
    letters = wait_for(
        lambda: _read_topic(broker.bootstrap_servers, DEAD_LETTERS), timeout=60, what="the leaky event dead-lettered"
    )
    assert [json.loads(v)["errors"][0]["field"] for v in letters] == ["subject"]
    assert "resident registration number" in json.loads(letters[0])["reason"]
    assert [v for v in letters if leaks(v)] == []
    original = json.loads(letters[0])["value_b64"]
    import base64

    assert "######-#######" in base64.b64decode(original).decode()  # kept, so nothing is lost, but masked
    assert _scan_database(sessions) == []
    worker_log = Path(worker.log).read_text(errors="replace")
    assert not leaks(worker_log)
