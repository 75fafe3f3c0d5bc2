"""Structured logs (issue 14, docs/observability.md): with LOG_FORMAT=json the API, worker, dispatcher and scheduler
write one JSON object per line, with event_id, trace_id and agency where known; and, as the privacy test scans the
database, every line is scanned for the personal data a run planted: none of it may appear."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from entitlements.persistence.tables import CitizenRow
from events.cloudevents import CloudEvent
from events.privacy import Pseudonymizer, looks_like_rrn
from events.producer import AgencyProducer
from notifiers.tables import NotificationRow
from tests.conftest import Component, Stack, agency_key, wait_for
from tests.support.births import as_json, birth_event, register_device, seed_household
from tests.support.otlp_collector import LocalOtlpCollector

pytestmark = pytest.mark.integration

ROLES = ("worker", "dispatcher", "scheduler", "api")
MOTHER_RRN = "900215-2345678"
HTTP_RRN = "850301-1234567"
NAMES = ("박서연", "김하늘", "Park Seoyeon")
PHONE = "010-2345-6789"
TOKEN = "fcm-token-PLANTED-d1e2v3i4c5e6-secret"
STRUCTURED = {"content-type": "application/cloudevents+json"}
TRACE_ID = re.compile(r"[0-9a-f]{32}")


def planted(line: str) -> list[str]:
    """What of the run's personal data a log line holds."""
    found = [p for p in (*NAMES, PHONE, TOKEN, MOTHER_RRN, HTTP_RRN) if p in line]
    digits = line.replace("-", "")
    found += [r for r in (MOTHER_RRN, HTTP_RRN, PHONE) if r.replace("-", "") in digits]
    return found + (["an RRN-shaped string"] if looks_like_rrn(line) else [])


@pytest.fixture
def collector() -> Iterator[LocalOtlpCollector]:
    with LocalOtlpCollector() as running:
        yield running


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_process_writes_json_lines_with_ids_and_no_personal_data(
    stack: Stack, collector: LocalOtlpCollector
) -> None:
    env = {
        **{k: v for k, v in stack.env.items() if not k.startswith("OTEL_")},
        "LOG_FORMAT": "json",
        "WORKER_DISPATCHES_OUTBOX": "false",
        "OTEL_TRACES_EXPORTER": "otlp",  # so that lines carry the trace ids of the spans they belong to
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
    }
    pseudonyms = Pseudonymizer(env["PSEUDONYM_KEY"].encode())
    mother = pseudonyms.pseudonym(MOTHER_RRN)
    seed_household(stack.sessions, "hh-logs", [mother], "41110", date(2021, 5, 1))
    register_device(stack.sessions, mother, TOKEN)
    seed_household(stack.sessions, "hh-elder", ["p-elder"], "41110", date(2001, 1, 1))

    # A birth with the mother's RRN in its designated field (pseudonymised at the door), over HTTP.
    birth = birth_event(mother="placeholder", born="2024-03-01", registered="2024-03-04")
    birth_data = json.loads(json.dumps(birth.data))
    birth_data["parents"] = [{"rrn": MOTHER_RRN, "role": "mother"}]
    birth = birth.model_copy(update={"data": birth_data})
    # A death, over HTTP.
    today = date.today().isoformat()
    death = CloudEvent(
        id="death-logs-1",
        source="/agencies/mois/registry/41110",
        specversion="1.0",
        type="kr.go.mois.death.registered",
        data={
            "deceased": {"id": "p-elder", "birth_date": "1940-01-01", "death_date": today},
            "municipality_code": "41110",
            "registered_on": today,
        },
    )
    # Bad events: names and a phone number where no contract has them (refused at the door), an RRN outside its field.
    named = as_json(birth_event(mother=mother, child="c-named"))
    named["data"]["parents"][0]["name"] = NAMES[0]
    named["data"]["parents"][0]["phone"] = PHONE
    named["data"]["child"]["name"] = NAMES[1]
    leaky = as_json(birth_event(mother=mother, child="c-leaky")) | {"subject": HTTP_RRN}
    # And on Kafka, an agency producer that skipped every check: the worker dead-letters it.
    raw = as_json(birth_event(mother=mother, child="c-raw", event_id="raw-bad-1"))
    raw["data"]["parents"][0]["name"] = NAMES[2]
    raw["data"]["note"] = f"call {PHONE}, RRN {MOTHER_RRN}"

    env["API_PORT"] = stack.env["API_PORT"]
    key = agency_key(env["DATABASE_URL"])
    components = [Component(role, env, stack.logs) for role in ROLES]
    try:
        base = f"http://127.0.0.1:{env['API_PORT']}"
        wait_for(lambda: _healthy(base), timeout=60, what="the API to answer /healthz")
        with httpx.Client(base_url=base, timeout=30, headers={"x-api-key": key}) as client:
            for event in (birth, death):
                sent = client.post("/v1/events", content=event.to_structured(), headers=STRUCTURED)
                assert sent.status_code == 202, sent.text
            for bad in (named, leaky):
                refused = client.post("/v1/events", content=json.dumps(bad, ensure_ascii=False), headers=STRUCTURED)
                assert refused.status_code in (400, 422), refused.text
        producer = AgencyProducer(stack.broker.bootstrap_servers)
        producer.send_raw(json.dumps(raw, ensure_ascii=False).encode(), key=b"k")
        producer.flush()
        producer.close()

        wait_for(lambda: any(m["token"] == TOKEN for m in stack.fcm.received), what="the birth's push")
        wait_for(lambda: _deceased(stack), what="the death processed")
        wait_for(lambda: _lines_with(stack, "worker", "life event dead-lettered"), what="the raw event dead-lettered")
        wait_for(lambda: _lines_with(stack, "scheduler", "lease"), what="the scheduler at work")
    finally:
        for component in components:
            component.stop()

    lines = {role: _json_lines(stack, role) for role in ROLES}
    for role, parsed in lines.items():
        assert parsed, f"the {role} wrote nothing"
        for line in parsed:
            assert {"time", "level", "logger", "message"} <= set(line), line
            assert line["role"] == role, line
    everything = [(role, line) for role in ROLES for line in (stack.logs / f"{role}.log").read_text().splitlines()]
    assert [(role, line, planted(line)) for role, line in everything if planted(line)] == []

    # The API: one line per event, with its id, the agency and its trace; a refusal names fields, not values.
    api = {line.get("event_id"): line for line in lines["api"] if line["logger"].endswith("ingestion")}
    for event in (birth, death):
        accepted = api[event.id]
        assert (accepted["agency"], accepted["status"], accepted["message"]) == ("mois", 202, "life event accepted")
        assert TRACE_ID.fullmatch(accepted["trace_id"]), accepted
    refusal = api[named["id"]]
    assert refusal["status"] in (400, 422) and "data.parents.0.name" in refusal["reason"], refusal
    assert leaky["id"] not in api or api[leaky["id"]]["status"] in (400, 422)
    # The worker: a line per batch, in its span's trace; the dead letter by event id, place and reason.
    batches = [line for line in lines["worker"] if line["message"] == "batch processed"]
    assert batches and all(TRACE_ID.fullmatch(line["trace_id"]) for line in batches)
    assert sum(line["processed"] for line in batches) >= 2
    letter = next(line for line in lines["worker"] if line["message"] == "life event dead-lettered")
    assert letter["event_id"] == "raw-bad-1" and letter["where"].startswith("life-events/"), letter
    assert letter["level"] == "warning" and letter["reason"]
    # The dispatcher: what each round did.
    rounds = [line for line in lines["dispatcher"] if line["message"] == "outbox round"]
    assert sum(line["pushed"] for line in rounds) >= 1
    with stack.sessions() as session:
        assert session.scalar(select(NotificationRow.dispatch_status).where(NotificationRow.recipient_id == mother))


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _deceased(stack: Stack) -> bool:
    with stack.sessions() as session:
        return session.scalar(select(CitizenRow.deceased_on).where(CitizenRow.id == "p-elder")) is not None


def _json_lines(stack: Stack, role: str) -> list[dict[str, Any]]:
    parsed = []
    for number, text in enumerate((stack.logs / f"{role}.log").read_text().splitlines(), 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except ValueError:
            raise AssertionError(f"{role}.log:{number} is not JSON: {text!r}") from None
        assert isinstance(line, dict), (role, number, text)
        parsed.append(line)
    return parsed


def _lines_with(stack: Stack, role: str, text: str) -> bool:
    path = stack.logs / f"{role}.log"
    return path.exists() and text in path.read_text(errors="replace")
