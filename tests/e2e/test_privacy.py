"""Resident registration numbers: pseudonymised in their designated field, refused elsewhere, never at rest; and
after a full run nothing personal in clear anywhere: every Kafka topic, the database (sealed columns), the logs, the
push payloads (issue #6, docs/privacy.md)."""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaConsumer
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.broker import EmbeddedBroker
from entitlements.persistence.tables import CitizenRow
from events.cloudevents import CloudEvent, binary_headers
from events.errors import InvalidEvent
from events.privacy import Pseudonymizer, looks_like_rrn, mask
from events.producer import AgencyProducer
from events.topics import DEAD_LETTERS, LIFE_EVENTS
from notifiers.tables import NotificationRow
from tests.conftest import Component, citizen_headers, wait_for
from tests.support.births import birth_event, register_device, seed_household
from tests.support.fcm_server import LocalFcmServer

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


# Names agencies must never send (the contracts have no name field): fed anyway, they must reach no push, no row
# of the database in clear and no log line.
MOTHER_NAME = "박서연"
CHILD_NAME = "김하늘"
NAMES = (MOTHER_NAME, CHILD_NAME, "Park Seoyeon")


def _every_topic(bootstrap: str) -> dict[str, list[str]]:
    """Every record of every topic on the broker as text: value, key, headers, and what a dead letter carries
    base64-encoded (the refused record's bytes), decoded."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    topics = sorted(admin.list_topics())
    admin.close()
    found: dict[str, list[str]] = {t: [] for t in topics}
    consumer = KafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=3000, group_id=None
    )
    for record in consumer:
        parts = [record.value or b"", record.key or b"", *(v for _, v in record.headers or [])]
        texts = [p.decode(errors="replace") for p in parts]
        try:
            letter = json.loads(texts[0])
        except ValueError:
            letter = None
        if isinstance(letter, dict) and "value_b64" in letter:
            encoded = [letter["value_b64"], letter.get("key_b64") or "", *(v for _, v in letter.get("headers", []))]
            texts += [base64.b64decode(e).decode(errors="replace") for e in encoded]
        found[record.topic].append("\n".join(texts))
    consumer.close()
    return found


def _every_database_value(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with sessions() as session:
        tables = inspect(session.get_bind()).get_table_names()
        return [
            (table, str(v))
            for table in tables
            for row in session.execute(text(f'SELECT * FROM "{table}"'))
            for v in row
        ]


@pytest.mark.integration
def test_after_a_full_run_nothing_personal_is_in_clear_anywhere(
    broker: EmbeddedBroker,
    sessions: sessionmaker[Session],
    fcm: tuple[LocalFcmServer, Path],
    worker: Component,
    api: httpx.Client,
    engine_env: dict[str, str],
    tmp_path: Path,
) -> None:
    server, _ = fcm
    engine_key = engine_env.get("PSEUDONYM_KEY", "dev-only-pseudonym-key-change-me-0123456789").encode()
    mother = Pseudonymizer(engine_key).pseudonym(MOTHER_RRN)
    seed_household(sessions, "hh-privacy", [mother], "41110", date(2021, 5, 1))
    register_device(sessions, mother, "token-privacy-phone")

    # The birth, through our producer: the RRN becomes the pseudonym before Kafka sees it.
    producer = AgencyProducer(broker.bootstrap_servers, pseudonymizer=Pseudonymizer(engine_key))
    event = birth_event(mother="placeholder", child="c-privacy", born="2024-03-01", registered="2024-03-04")
    data = dict(event.data)
    data["parents"] = [{"rrn": MOTHER_RRN, "role": "mother"}]
    producer.send(event.model_copy(update={"data": data}))
    producer.flush()

    # Over HTTP, an agency sends a name (no contract has one) and an RRN outside its field: both refused at the door.
    named = birth_event(mother=mother, child="c-named", born="2024-03-01", registered="2024-03-04")
    named_data = json.loads(json.dumps(named.data))
    named_data["parents"][0]["name"] = MOTHER_NAME
    named_data["child"]["name"] = CHILD_NAME
    named = named.model_copy(update={"data": named_data})
    structured = {"content-type": "application/cloudevents+json"}
    refused = api.post("/v1/events", content=named.to_structured(), headers=structured)
    assert refused.status_code in (400, 422), refused.text
    leaky = birth_event(mother=mother, child="c-leaky").model_copy(update={"subject": MOTHER_RRN})
    refused = api.post("/v1/events", content=leaky.to_structured(), headers=structured)
    assert refused.status_code in (400, 422), refused.text
    # Over HTTP in every content mode (structured, binary, batch): an RRN in its field is pseudonymised before it is
    # produced or stored; anywhere else (id, ce- header, partitionkey) the event is refused and nothing of it kept.
    http_rrn = "850301-1234567"
    http_mother = Pseudonymizer(engine_key).pseudonym(http_rrn)

    def designated(child: str) -> CloudEvent:
        sent = birth_event(mother="placeholder", child=child, born="2024-03-01", registered="2024-03-04")
        sent_data = json.loads(json.dumps(sent.data))
        sent_data["parents"] = [{"rrn": http_rrn, "role": "mother"}]
        return sent.model_copy(update={"data": sent_data})

    assert api.post("/v1/events", content=designated("c-http-s").to_structured(), headers=structured).status_code == 202
    binary = designated("c-http-b")
    ce_headers = {name: value.decode() for name, value in binary_headers(binary, "ce-")}
    assert api.post("/v1/events", content=json.dumps(binary.data), headers=ce_headers).status_code == 202
    leaky_key = birth_event(mother=mother, child="c-http-k").model_copy(update={"partitionkey": http_rrn})
    batch = [json.loads(designated("c-http-batch").to_structured()), json.loads(leaky_key.to_structured())]
    answer = api.post(
        "/v1/events:batch", content=json.dumps(batch), headers={"content-type": "application/cloudevents-batch+json"}
    )
    assert [item["status"] for item in answer.json()["results"]] == [202, 422], answer.text
    assert (
        api.post("/v1/events", content=json.dumps(binary.data), headers={**ce_headers, "ce-id": http_rrn}).status_code
        == 422
    )
    by_id = birth_event(mother=mother, child="c-http-i").model_copy(update={"id": http_rrn})
    assert api.post("/v1/events", content=by_id.to_structured(), headers=structured).status_code == 422

    # The same named event straight into Kafka, by a producer that skipped the contract: the worker refuses it too
    # (it is dead-lettered, so nothing is lost; docs/privacy.md says who may read that topic).
    producer.send_raw(named.model_copy(update={"id": "named"}).to_structured(), key=b"hh-privacy")
    producer.flush()
    producer.close()

    def pushed() -> bool:
        with sessions() as session:
            row = session.scalars(select(NotificationRow).where(NotificationRow.recipient_id == mother)).first()
            return row is not None and row.dispatch_status == "sent"

    wait_for(pushed, what="the mother's offers pushed")
    letters = wait_for(
        lambda: _read_topic(broker.bootstrap_servers, DEAD_LETTERS), timeout=60, what="the named event dead-lettered"
    )
    assert {e["field"] for v in letters for e in json.loads(v)["errors"]} >= {"data.child.name"}

    # The API still reads everything, in clear, to the citizen it belongs to.
    inbox = api.get(f"/v1/citizens/{mother}/inbox", headers=citizen_headers(mother)).json()["notifications"]
    assert len(inbox) == 1
    message_ko, message_en = inbox[0]["message_ko"], inbox[0]["message_en"]
    offers = {o["benefit_id"]: o for o in inbox[0]["offers"]}
    reason_ko = offers["child_allowance"]["reason_ko"]
    assert "가지 혜택" in message_ko and reason_ko.startswith("아동수당: ") and "아동수당법" in reason_ko

    # The database: the readable texts are nowhere in clear, in any column of any table; no RRN, no name.
    stored = _every_database_value(sessions)
    for secret in (message_ko, message_en, reason_ko, offers["child_allowance"]["reason_en"], "아동수당법"):
        assert [table for table, value in stored if secret in value] == [], secret
    assert [f"{table}: {value}" for table, value in stored if leaks(value)] == []
    assert [f"{table}: {value}" for table, value in stored if any(n in value for n in NAMES)] == []
    with sessions() as session:
        sealed = session.scalars(text("SELECT reason_ko FROM entitlements")).all()
    assert sealed and all(v.startswith("v1.") for v in sealed)

    # Every topic (life events, dead letters, whatever else the broker holds): no RRN.
    topics = _every_topic(broker.bootstrap_servers)
    assert LIFE_EVENTS in topics and DEAD_LETTERS in topics
    assert {t: [r for r in records if leaks(r)] for t, records in topics.items()} == {t: [] for t in topics}
    assert any(mother in r for r in topics[LIFE_EVENTS])  # what was produced is there, under the pseudonym
    assert sum(http_mother in r for r in topics[LIFE_EVENTS]) == 3  # the three HTTP births, under the pseudonym

    # The push: one, with nothing personal on the lock screen nor in its data.
    assert len(server.received) == 1
    payload = json.dumps(server.received[0], ensure_ascii=False)
    assert not leaks(payload) and not any(n in payload for n in NAMES)
    shown = json.dumps(server.received[0]["notification"], ensure_ascii=False)
    for personal in (mother, "c-privacy", "hh-privacy", "41110", "100,000", "3,000,000", reason_ko, message_ko):
        assert personal not in shown, personal

    # The logs of every process: no RRN, no name.
    logs = {p.name: p.read_text(errors="replace") for p in (tmp_path / "logs").glob("*.log")}
    assert {"worker.log", "api.log"} <= set(logs)
    assert {name: leaks(log) or any(n in log for n in NAMES) for name, log in logs.items()} == dict.fromkeys(
        logs, False
    )
