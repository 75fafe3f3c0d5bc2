"""What the outside review sent at the ingestion and citizen routes (issue #11: H3, M1, M5 and the low items),
replayed at the real API process on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer
from sqlalchemy import inspect, text

from beforeservice.broker import free_port
from beforeservice.console.tables import AgencyKeyRow
from beforeservice.database import make_engine, session_factory
from events.cloudevents import binary_headers
from events.privacy import Pseudonymizer, looks_like_rrn
from events.topics import LIFE_EVENTS
from tests.beforeservice.api.stack import Stack, api_process
from tests.conftest import agency_key, citizen_headers
from tests.support.births import as_json, birth_event

pytestmark = pytest.mark.integration
STRUCTURED = {"content-type": "application/cloudevents+json"}
BATCH = {"content-type": "application/cloudevents-batch+json"}
RRN = "900215-2345678"


def leaks(value: str) -> bool:
    return looks_like_rrn(value) or RRN.replace("-", "") in value.replace("-", "")


def post(stack: Stack, body: Any, key: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return stack.client.post(
        "/v1/events", content=content, headers={**STRUCTURED, "x-api-key": key or stack.mois_key, **(headers or {})}
    )


def topic_texts(stack: Stack) -> list[str]:
    """Every life-events record as text: key, value and headers."""
    consumer = KafkaConsumer(
        LIFE_EVENTS,
        bootstrap_servers=stack.broker.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=2500,
        group_id=None,
    )
    found = [
        "\n".join(p.decode(errors="replace") for p in (m.key or b"", m.value or b"", *(v for _, v in m.headers)))
        for m in consumer
    ]
    consumer.close()
    return found


def database_texts(stack: Stack) -> list[str]:
    with stack.sessions() as session:
        return [
            f"{table}: {value}"
            for table in inspect(session.get_bind()).get_table_names()
            for row in session.execute(text(f'SELECT * FROM "{table}"'))
            for value in row
            if isinstance(value, str)
        ]


def api_log(stack: Stack) -> str:
    return (Path(stack.env["DATA_DIR"]).parent / "logs" / "api.log").read_text(errors="replace")


# --- H3: resident registration numbers over HTTP -------------------------------------------------------------


def test_an_rrn_outside_its_field_is_refused_over_http_and_pseudonymised_inside_it(stack: Stack) -> None:
    def birth() -> dict[str, Any]:
        return as_json(birth_event(mother=f"m-rrn-{uuid.uuid4().hex[:6]}", municipality="41117"))

    def with_parent_id(event: dict[str, Any], value: str) -> dict[str, Any]:
        event["data"]["parents"][0]["id"] = value
        return event

    structured = {
        "id": {**birth(), "id": RRN},
        "subject": {**birth(), "subject": RRN.replace("-", "")},
        "data.parents.0.id": with_parent_id(birth(), RRN),
        "partitionkey": {**birth(), "partitionkey": RRN},
        "note": {**birth(), "note": f"mother {RRN}"},
    }
    for field, event in structured.items():
        r = post(stack, event)
        assert r.status_code == 422, (field, r.text)
        assert r.json()["errors"][0]["field"] == field and not leaks(r.text), r.text

    # Binary mode: the RRN in a ce- header, whether it becomes the id, an extension or an unknown attribute name.
    sent = birth_event(mother="m-rrn-binary", municipality="41117")
    headers = {name: value.decode() for name, value in binary_headers(sent, "ce-")}
    for name, value in (("ce-id", RRN), ("ce-note", RRN), ("ce-x" + RRN.replace("-", ""), "1")):
        r = stack.client.post(
            "/v1/events",
            content=json.dumps(sent.data),
            headers={**headers, name: value, "x-api-key": stack.mois_key},
        )
        assert r.status_code == 422 and not leaks(r.text), (name, r.text)
    # Structured mode with an RRN in a stray ce- header: refused as well (nothing of it is kept).
    assert post(stack, birth(), headers={"ce-note": RRN}).status_code == 422

    # A batch: each such item refused on its own, the clean one accepted.
    items = [structured["id"], {**birth(), "note": RRN}, birth()]
    items[0] = {**items[0], "id": RRN.replace("-", "")}
    r = stack.client.post("/v1/events:batch", content=json.dumps(items), headers={**BATCH, "x-api-key": stack.mois_key})
    assert [x["status"] for x in r.json()["results"]] == [422, 422, 202] and not leaks(r.text), r.text

    # The designated field, in all three modes: pseudonymised before it is produced.
    pseudonym = Pseudonymizer(os.environ["PSEUDONYM_KEY"].encode()).pseudonym(RRN)
    designated = birth()
    designated["data"]["parents"] = [{"rrn": RRN, "role": "mother"}]
    r = post(stack, designated)
    assert r.status_code == 202, r.text
    binary = birth_event(mother="placeholder", municipality="41117")
    data = {**binary.data, "parents": [{"rrn": RRN.replace("-", ""), "role": "mother"}]}
    binary_head = {name: value.decode() for name, value in binary_headers(binary, "ce-")}
    r = stack.client.post("/v1/events", content=json.dumps(data), headers={**binary_head, "x-api-key": stack.mois_key})
    assert r.status_code == 202, r.text
    batched = birth()
    batched["data"]["parents"] = [{"rrn": RRN, "role": "mother"}]
    r = stack.client.post(
        "/v1/events:batch", content=json.dumps([batched]), headers={**BATCH, "x-api-key": stack.mois_key}
    )
    assert r.json()["accepted"] == 1, r.text

    records = topic_texts(stack)
    produced = [r for r in records if pseudonym in r]
    assert len(produced) == 3, records  # each mode's event, under the mother's pseudonym (its key too)
    assert [r for r in records if leaks(r)] == []
    assert [v for v in database_texts(stack) if leaks(v)] == []
    assert not leaks(api_log(stack))


# --- M1: crafted JSON --------------------------------------------------------------------------------------------


def test_deeply_nested_json_and_lone_surrogates_are_4xx_problems(stack: Stack) -> None:
    deep = b"[" * 1000 + b"]" * 1000
    inside = json.dumps({**as_json(birth_event(mother="m-deep")), "data": "X"}).encode().replace(b'"X"', deep)
    for path, headers, body in (
        ("/v1/events", STRUCTURED, deep),
        ("/v1/events", STRUCTURED, inside),
        ("/v1/events:batch", BATCH, b"[" + inside + b"]"),
        ("/v1/events", {"ce-specversion": "1.0", "content-type": "application/json"}, deep),
    ):
        r = stack.client.post(path, content=body, headers={**headers, "x-api-key": stack.mois_key})
        assert r.status_code == 400, (path, r.status_code, r.text[:200])
        assert r.headers["content-type"] == "application/problem+json" and r.json()["status"] == 400

    # A lone surrogate, written as JSON writes it: the \ud800 escape.
    event = json.dumps({**as_json(birth_event(mother="m-surrogate")), "note": "X"}).replace('"X"', '"a\\ud800b"')
    r = post(stack, event.encode())
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "note", r.text
    r = stack.client.post(
        "/v1/events:batch", content=f"[{event}]".encode(), headers={**BATCH, "x-api-key": stack.mois_key}
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "0.note", r.text

    citizen = "m-surrogate"
    auth = {**citizen_headers(citizen), "content-type": "application/json"}
    consent = '[{"category": "childbirth_childcare", "channel": "push", "granted": true, "text_version": "\\udfff"}]'
    r = stack.client.put(f"/v1/citizens/{citizen}/consents", content=consent, headers=auth)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "0.text_version", r.text
    device = '{"token": "tok\\ud800", "platform": "android"}'
    r = stack.client.put(f"/v1/citizens/{citizen}/devices", content=device, headers=auth)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "token", r.text
    # A proper pair (an emoji escaped as two surrogates, as JSON encoders do) is text, and accepted.
    device = '{"token": "tok\\ud83d\\ude00", "platform": "android"}'
    assert stack.client.put(f"/v1/citizens/{citizen}/devices", content=device, headers=auth).status_code == 200
    assert stack.client.get("/healthz").status_code == 200


# --- M5: the rate limit counts events, across API processes ------------------------------------------------------


@pytest.fixture
def second_api(stack: Stack, tmp_path: Path) -> Iterator[httpx.Client]:
    """Another API process on the same database and broker, as a second replica behind a load balancer."""
    with api_process({**stack.env, "API_PORT": str(free_port())}, tmp_path / "logs", "the second API") as client:
        yield client


def test_rate_limit_counts_events_and_holds_across_api_processes(stack: Stack, second_api: httpx.Client) -> None:
    slow = agency_key(stack.database_url, "mois-slow", rate_per_minute=3)
    batch = [as_json(birth_event(mother=f"m-rl{i}", municipality="41117")) for i in range(50)]
    r = stack.client.post("/v1/events:batch", content=json.dumps(batch), headers={**BATCH, "x-api-key": slow})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [202] * 3 + [429] * 47
    assert r.json()["accepted"] == 3
    assert results[3]["problem"]["type"].endswith("/rate-limited") and results[3]["problem"]["retry_after"] >= 1
    # The bucket is empty for every process: the other replica refuses the key too, single event or batch.
    one = as_json(birth_event(mother="m-rl-next", municipality="41117"))
    r = second_api.post("/v1/events", content=json.dumps(one), headers={**STRUCTURED, "x-api-key": slow})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1, r.text
    r = second_api.post("/v1/events:batch", content=json.dumps([one]), headers={**BATCH, "x-api-key": slow})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1

    # Spread over both processes, a 5/min key gets five events in all, not five per process.
    five = agency_key(stack.database_url, "mois-five", rate_per_minute=5)
    events = [as_json(birth_event(mother=f"m-five{i}", municipality="41117")) for i in range(8)]
    statuses = [post(stack, e, key=five).status_code for e in events[:3]]
    r = second_api.post("/v1/events:batch", content=json.dumps(events[3:]), headers={**BATCH, "x-api-key": five})
    statuses += [x["status"] for x in r.json()["results"]]
    assert statuses == [202] * 5 + [429] * 3


# --- Low items -----------------------------------------------------------------------------------------------


def test_sources_are_compared_on_whole_clean_segments(stack: Stack) -> None:
    district = agency_key(
        stack.database_url, "mois-suwon", ("kr.go.mois.birth.registered",), ("/agencies/mois/registry/41117",)
    )
    sibling = agency_key(
        stack.database_url, "mois-suwon", ("kr.go.mois.birth.registered",), ("/agencies/mois/registry/4111",)
    )
    event = as_json(birth_event(mother="m-seg", municipality="41117"))
    assert post(stack, event, key=district).status_code == 202
    r = post(stack, {**event, "id": str(uuid.uuid4())}, key=sibling)  # 4111 is not 41117: no partial segment
    assert r.status_code == 403 and "may not emit events from source" in r.json()["detail"], r.text
    for source in (
        "/agencies/mois/registry/41117/../11680",
        "/agencies/mois/registry/41117/./x",
        "/agencies/mois/registry/41117//x",
        "/agencies/mois/registry/41117/%2e%2e/11680",
        "/agencies/mois/registry/41117/%2E%2E/%2E%2E/moel",
    ):
        r = post(stack, {**event, "id": str(uuid.uuid4()), "source": source}, key=district)
        # Refused twice over: the envelope's source pattern has no dot segments (400 naming `source`), and the
        # key's prefix is compared on clean whole segments (403) should a pattern ever admit one.
        refused_as_invalid = r.status_code == 400 and r.json()["errors"][0]["field"] == "source"
        refused_as_foreign = r.status_code == 403 and "may not emit events from source" in r.json()["detail"]
        assert refused_as_invalid or refused_as_foreign, (source, r.text)


def cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beforeservice", *args], env=stack.env, capture_output=True, text=True, timeout=60
    )


def test_agencies_add_refuses_wide_or_foreign_scopes_and_no_key_emits_internal_events(stack: Stack) -> None:
    refused = [
        ("nhis", "*", "/"),
        ("nhis", "kr.go.nhis.*", "/"),
        ("nhis", "*", "/agencies/nhis/"),
        ("nhis", "kr.go.*", "/agencies/nhis/"),
        ("nhis", "kr.go.beforeservice.milestone.reached", "/agencies/nhis/"),
        ("beforeservice", "kr.go.beforeservice.*", "/agencies/beforeservice/"),
        ("nhis", "kr.go.mohw.benefit.granted", "/agencies/nhis/"),
        ("nhis", "kr.go.nhis.*", "/agencies/mohw/"),
        ("nhis", "kr.go.nhis.*", "/agencies/nhis/../mohw/"),
        ("nhis", "kr.go.nhis.*", "/agencies/nhis/%2e%2e/mohw"),
    ]
    for agency, event_type, source in refused:
        added = cli(stack, "agencies", "add", agency, "--type", event_type, "--source", source)
        assert added.returncode == 2 and not added.stdout.strip(), (event_type, source, added.stdout)
    good = cli(stack, "agencies", "add", "nhis", "--type", "kr.go.nhis.*", "--source", "/agencies/nhis/")
    assert good.returncode == 0, good.stderr

    # A key stored before these checks, scoped to everything: the engine's own events stay out of its reach.
    legacy = f"bsa_legacy{uuid.uuid4().hex[:6]}_secret"
    engine = make_engine(stack.database_url)
    with session_factory(engine).begin() as session:
        session.add(
            AgencyKeyRow(
                key_id=legacy.split("_")[1],
                agency="legacy",
                key_hash=hashlib.sha256(legacy.encode()).hexdigest(),
                event_types=["*"],
                source_prefixes=["/"],
                rate_per_minute=100,
                created_at=datetime.now(UTC),
                revoked_at=None,
            )
        )
    engine.dispose()
    milestone = {
        "id": str(uuid.uuid4()),
        "source": "/beforeservice/scheduler",
        "specversion": "1.0",
        "type": "kr.go.beforeservice.milestone.reached",
        "data": {"person": {"id": "m-x", "birth_date": "2023-01-01"}, "milestone": "age_1", "on": "2024-01-01"},
    }
    r = post(stack, milestone, key=legacy)
    assert r.status_code == 403, r.text


def test_every_route_has_a_body_limit_and_bounded_citizen_input(stack: Stack) -> None:
    citizen = "m-limits"
    auth = {**citizen_headers(citizen), "content-type": "application/json"}
    huge = b'{"language": "ko", "easy_read": false, "pad": "' + b"x" * 1_000_000 + b'"}'
    r = stack.client.put(f"/v1/citizens/{citizen}/preferences", content=huge, headers=auth)
    assert r.status_code == 413 and r.json()["type"].endswith("/too-large"), r.text[:200]

    def streamed() -> Iterator[bytes]:  # chunked: no Content-Length to go by
        yield b'{"language": "ko", "pad": "'
        for _ in range(100):
            yield b"x" * 10_000
        yield b'"}'

    r = stack.client.put(f"/v1/citizens/{citizen}/preferences", content=streamed(), headers=auth)
    assert r.status_code == 413, r.text[:200]
    assert "content-length" not in {k.lower() for k in r.request.headers}

    change = {"category": "childbirth_childcare", "channel": "push", "granted": True}
    r = stack.client.put(f"/v1/citizens/{citizen}/consents", json=[change] * 37, headers=citizen_headers(citizen))
    assert r.status_code == 422, r.text[:300]
    for version in ("x" * 33, "<b>1</b>", "2026-01\n"):
        r = stack.client.put(
            f"/v1/citizens/{citizen}/consents",
            json=[{**change, "text_version": version}],
            headers=citizen_headers(citizen),
        )
        assert r.status_code == 422 and "text_version" in r.json()["errors"][0]["field"], (version, r.text)
    current = [{**change, "text_version": "2026-01"}]
    r = stack.client.put(f"/v1/citizens/{citizen}/consents", json=current, headers=citizen_headers(citizen))
    assert r.status_code == 200, r.text


def test_json_responses_are_not_cached_nor_sniffed_and_problems_keep_their_headers(stack: Stack) -> None:
    citizen = "m-headers"
    for response in (
        stack.client.get("/healthz"),
        stack.client.get("/v1/schemas"),
        stack.client.get(f"/v1/citizens/{citizen}/inbox", headers=citizen_headers(citizen)),
        stack.client.get("/v1/nothing-here"),
        post(stack, {"not": "an event"}),
    ):
        assert response.headers.get("cache-control") == "no-store", (response.url, response.headers)
        assert response.headers.get("x-content-type-options") == "nosniff", (response.url, response.headers)

    r = stack.client.post("/v1/events", content=b"{}", headers=STRUCTURED)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "ApiKey"
    r = stack.client.get(f"/v1/citizens/{citizen}/inbox")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = stack.client.delete("/healthz")
    assert r.status_code == 405 and "GET" in r.headers["allow"]
    assert r.headers["content-type"] == "application/problem+json"
