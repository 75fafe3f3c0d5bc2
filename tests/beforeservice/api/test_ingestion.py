"""Agencies post events: keys, scopes, idempotency, batches, limits, published contracts, and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from typing import Any

import jsonschema_rs
import pytest
from kafka import KafkaConsumer
from sqlalchemy import select

from beforeservice.console.tables import IngestedEventRow
from events.cloudevents import binary_headers
from events.topics import LIFE_EVENTS
from tests.beforeservice.api.stack import Stack
from tests.conftest import agency_key
from tests.support.births import as_json, birth_event

pytestmark = pytest.mark.integration
STRUCTURED = {"content-type": "application/cloudevents+json"}
BATCH = {"content-type": "application/cloudevents-batch+json"}


def on_kafka(stack: Stack, ids: set[str], at_least: int) -> Counter[str]:
    """How many records on life-events carry each of these event ids (read from the start)."""
    consumer = KafkaConsumer(
        LIFE_EVENTS,
        bootstrap_servers=stack.broker.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=3000,
        group_id=None,
    )
    seen: Counter[str] = Counter()
    try:
        for message in consumer:
            event_id = json.loads(message.value)["id"]
            if event_id in ids:
                seen[event_id] += 1
    finally:
        consumer.close()
    assert sum(seen.values()) >= at_least, seen
    return seen


def post(stack: Stack, body: Any, key: str | None = None, headers: dict[str, str] | None = None) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return stack.client.post(
        "/v1/events",
        content=content,
        headers={**STRUCTURED, "x-api-key": stack.mois_key if key is None else key, **(headers or {})},
    )


def test_only_a_scoped_key_may_post(stack: Stack) -> None:
    event = as_json(birth_event(mother="m-scope", municipality="41117"))
    assert post(stack, event, key="").status_code == 401
    assert post(stack, event, key="bsa_0000_forged").status_code == 401

    # A key for Suwon's registry office: MOIS births, but only from the sources of Suwon's four districts.
    districts = tuple(f"/agencies/mois/registry/{code}" for code in ("41111", "41113", "41115", "41117"))
    suwon_office = agency_key(stack.database_url, "mois-suwon", ("kr.go.mois.birth.registered",), districts)
    assert post(stack, event, key=suwon_office).status_code == 202
    seoul = as_json(birth_event(mother="m-scope2", municipality="11680"))
    spoofed = post(stack, seoul, key=suwon_office)
    assert spoofed.status_code == 403 and "source '/agencies/mois/registry/11680'" in spoofed.json()["detail"]
    death = {**event, "id": str(uuid.uuid4()), "type": "kr.go.mois.death.registered"}
    assert post(stack, death, key=suwon_office).status_code == 403  # not a type this key may emit

    # The MOIS key cannot speak for the employment insurance either.
    moel = {**event, "id": str(uuid.uuid4()), "source": "/agencies/moel/employment-insurance"}
    assert post(stack, moel).status_code == 403
    # A caseworker's bearer token is no agency credential.
    r = stack.client.post("/v1/events", content=json.dumps(event), headers={**STRUCTURED, **stack.bearer("kim.suwon")})
    assert r.status_code == 401


def test_same_event_twice_is_one_event_and_a_reused_id_is_a_conflict(stack: Stack) -> None:
    event = birth_event(mother="m-idem", municipality="41117")
    first = post(stack, as_json(event))
    assert first.status_code == 202
    again = post(stack, as_json(event))
    assert again.status_code == 202 and again.json() == first.json()
    # The same event in binary mode is the same event.
    headers = {name: value.decode() for name, value in binary_headers(event, "ce-")}
    binary = stack.client.post(
        "/v1/events", content=json.dumps(event.data), headers={**headers, "x-api-key": stack.mois_key}
    )
    assert binary.status_code == 202, binary.text

    changed = {**as_json(event), "data": {**event.data, "birth_order": 3}}
    conflict = post(stack, changed)
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert conflict.json()["type"].endswith("/duplicate-id")

    assert on_kafka(stack, {event.id}, 1)[event.id] == 1  # produced once
    with stack.sessions() as session:
        row = session.scalars(select(IngestedEventRow).where(IngestedEventRow.event_id == event.id)).one()
        assert len(row.digest) == 64 and row.type == "kr.go.mois.birth.registered"


def test_batch_answers_per_event(stack: Stack) -> None:
    good = [as_json(birth_event(mother=f"m-batch{i}", municipality="41117")) for i in range(3)]
    invalid = {**good[0], "id": str(uuid.uuid4()), "data": {**good[0]["data"], "birth_order": 0}}
    spoofed = {**good[1], "id": str(uuid.uuid4()), "source": "/agencies/moel/employment-insurance"}
    reused = {**good[2], "data": {**good[2]["data"], "birth_order": 4}}  # same id as good[2], other payload
    items: list[Any] = [*good, invalid, spoofed, "not an event", reused, good[0]]
    r = stack.client.post("/v1/events:batch", content=json.dumps(items), headers={**BATCH, "x-api-key": stack.mois_key})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["status"] for x in body["results"]] == [202, 202, 202, 422, 403, 400, 409, 202]
    assert body["accepted"] == 4 and body["refused"] == 4
    assert body["results"][3]["problem"]["errors"][0]["field"] == "data.birth_order"
    assert body["results"][0]["id"] == good[0]["id"]
    seen = on_kafka(stack, {g["id"] for g in good}, 3)
    assert all(seen[g["id"]] == 1 for g in good)  # the repeat inside the batch was not produced again

    too_many = [as_json(birth_event(mother="m-many")) for _ in range(1001)]
    r = stack.client.post(
        "/v1/events:batch", content=json.dumps(too_many), headers={**BATCH, "x-api-key": stack.mois_key}
    )
    assert r.status_code == 413
    r = stack.client.post(
        "/v1/events:batch", content=json.dumps(good), headers={**STRUCTURED, "x-api-key": stack.mois_key}
    )
    assert r.status_code == 415
    r = stack.client.post("/v1/events:batch", content=b"x" * 2_100_000, headers={**BATCH, "x-api-key": stack.mois_key})
    assert r.status_code == 413


def test_rate_limit_and_body_limit(stack: Stack) -> None:
    slow = agency_key(stack.database_url, "mois-slow", rate_per_minute=3)
    answers = [post(stack, as_json(birth_event(mother=f"m-rate{i}")), key=slow) for i in range(4)]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert int(answers[3].headers["retry-after"]) >= 1
    assert answers[3].json()["type"].endswith("/rate-limited")
    assert post(stack, as_json(birth_event(mother="m-other"))).status_code == 202  # other agencies are unaffected

    r = post(stack, b"{" + b" " * 70_000 + b"}")
    assert r.status_code == 413 and r.json()["status"] == 413


def test_published_contracts(stack: Stack) -> None:
    listing = stack.client.get("/v1/schemas").json()
    assert "kr.go.mois.birth.registered" in listing["types"]
    r = stack.client.get("/v1/schemas/kr.go.mois.birth.registered")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/schema+json")
    validator = jsonschema_rs.validator_for(r.json())
    data = birth_event(mother="m-schema").data
    assert validator.is_valid(data)
    assert not validator.is_valid({**data, "birth_order": 0})
    assert stack.client.get("/v1/schemas/kr.go.suwon.application.received").json()["title"] == "ApplicationReceived"
    assert stack.client.get("/v1/schemas/kr.go.mois.nothing").status_code == 404

    doc = stack.client.get("/v1/asyncapi.json").json()
    assert doc["asyncapi"] == "3.0.0"
    assert {c["address"] for c in doc["channels"].values()} == {"life-events", "life-events.dead-letter"}
    assert "kr_go_mois_birth_registered" in doc["channels"]["lifeEvents"]["messages"]
    for ref in _refs(doc):  # every reference resolves inside the document
        node: Any = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]

    spec = stack.client.get("/openapi.json").json()
    assert "/v1/events:batch" in spec["paths"]
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert stack.client.get("/docs").status_code == 200


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def cli(stack: Stack, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beforeservice", *args],
        env=stack.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_agencies_cli_add_list_revoke(stack: Stack) -> None:
    added = cli(
        stack,
        "agencies",
        "add",
        "mohw",
        "--type",
        "kr.go.mohw.*",
        "--source",
        "/agencies/mohw/",
        "--rate-per-minute",
        "100",
    )
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip()
    key_id = key.split("_")[1]
    event = {**as_json(birth_event(mother="m-mohw")), "type": "kr.go.mohw.application.received"}
    event["source"] = "/agencies/mohw/bokjiro"
    event["data"] = {"benefit_id": "child_allowance", "citizen_id": "m-mohw", "received_on": "2024-03-10"}
    event.pop("subject")
    assert post(stack, event, key=key).status_code == 202

    listed = cli(stack, "agencies", "list")
    assert key_id in listed.stdout and "mohw" in listed.stdout and key not in listed.stdout

    assert cli(stack, "agencies", "revoke", key_id).returncode == 0
    assert post(stack, {**event, "id": str(uuid.uuid4())}, key=key).status_code == 401
    assert "revoked" in cli(stack, "agencies", "list").stdout
    assert cli(stack, "agencies", "revoke", key_id).returncode == 1
    assert cli(stack, "agencies", "add", "x", "--type", "a", "--source", "no-slash").returncode == 2
