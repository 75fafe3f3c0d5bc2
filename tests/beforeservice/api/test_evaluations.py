"""POST /v1/evaluations on the real API process: who may ask about whom, a birth's decisions, missing facts,
hostile input refused with the field named, and the decision equal to what the worker stores for the same event."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from beforeservice.bootstrap import processor
from beforeservice.console.tables import AuditRow
from beforeservice.settings import Settings
from entitlements.batch import Record
from entitlements.persistence.tables import EntitlementRow
from tests.beforeservice.api.stack import GANGNAM, STRUCTURED, SUWON, Stack, start_stack
from tests.conftest import citizen_headers
from tests.support.births import birth_event, seed_household

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "birth-in-suwon.yaml"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # PostgreSQL only: the evaluation reads the store through the worker's own queries, tested on both elsewhere.
    yield from start_stack("postgresql", tmp_path_factory.mktemp("evaluations"))


def example() -> dict[str, Any]:
    """The documented example as JSON (YAML dates become ISO strings)."""
    loaded: dict[str, Any] = json.loads(json.dumps(yaml.safe_load(EXAMPLE.read_text()), default=str))
    return loaded


def by_benefit(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["benefit_id"]: d for d in body["decisions"]}


def stored_birth(stack: Stack, municipality: str) -> tuple[str, list[str], dict[str, Any]]:
    """A stored family (residence unknown) and the birth event they are about to have, not yet processed."""
    tag = uuid.uuid4().hex[:8]
    parents = [f"m-{tag}", f"f-{tag}"]
    seed_household(stack.sessions, f"hh-{tag}", parents, municipality, None)
    event = birth_event(mother=parents[0], father=parents[1], child=f"c-{tag}", municipality=municipality)
    return f"hh-{tag}", parents, event.model_dump(mode="json", exclude_none=True)


def what_if(stored_people: list[str], event: dict[str, Any], on: str = "2024-03-05") -> dict[str, Any]:
    return {
        "version": "2026-11",
        "date": on,
        "stored_people": stored_people,
        "events": [{"type": event["type"], "data": event["data"]}],
    }


def test_a_birth_gives_child_allowance_and_parental_benefit_with_amounts_deadlines_and_reasons(stack: Stack) -> None:
    r = stack.client.post("/v1/evaluations", json=example(), headers=stack.bearer("kim.suwon"))
    assert r.status_code == 200, r.text
    decisions = by_benefit(r.json())
    allowance, parental = decisions["child_allowance"], decisions["parental_benefit"]
    assert (allowance["eligibility"], allowance["amount_krw"], allowance["amount_unit"]) == (
        "eligible",
        100_000,
        "KRW/month",
    )
    assert (parental["eligibility"], parental["amount_krw"], parental["amount_unit"]) == (
        "eligible",
        1_000_000,
        "KRW/month",
    )
    # Born 3 November 2026: "60 days including the day of birth" end on 1 January 2027 (아동수당법 제10조제2항), 신정,
    # a Friday: so on Monday 4 January (민법 제161조). The 60 days are a back-pay window, not the end of the right;
    # 부모급여 ends with the month before the second birthday's month (an end of a right: not moved).
    window = {"date": "2027-01-04", "kind": "retroactive_window", "period": "retroactive_window"}
    assert allowance["deadlines"] == [window]
    assert parental["deadlines"] == [
        window,
        {"date": "2028-10-31", "kind": "entitlement_ends", "period": "paid_months"},
    ]
    for decision in (allowance, parental):
        assert decision["payment_starts"] == "2026-11"  # applied within the 60 days: paid from the birth month
        assert decision["offer_status"] == "matched" and decision["missing"] == []
        assert decision["beneficiary_id"] == "baby" and decision["event"] == 0
        assert "아동수당법" in decision["reason_ko"] and "Child Allowance Act" in decision["reason_en"]
        assert decision["trace"] and all(step["holds"] is True for step in decision["trace"])
    assert decisions["suwon_birth_grant"]["amount_krw"] == 1_000_000
    multi_child = decisions["kepco_multi_child_discount"]  # not offered (a second child), but shown with why
    assert multi_child["eligibility"] == "not_eligible" and "Three or More Children" in multi_child["reason_en"]
    assert "yongin_birth_grant" not in decisions  # a household is decided against its own 시군구's grant only
    # Audited like every caseworker access (a hypothetical situation names no stored person).
    with stack.sessions() as session:
        last = session.scalars(select(AuditRow).where(AuditRow.account == "kim.suwon").order_by(AuditRow.id)).all()[-1]
    assert (last.action, last.kind) == ("evaluation.run", "read")


def test_an_undetermined_decision_lists_the_missing_facts(stack: Stack) -> None:
    situation = example()
    del situation["households"][0]["resident_since"]  # how long the family has lived in Suwon is not known
    r = stack.client.post("/v1/evaluations", json=situation, headers=stack.bearer("kim.suwon"))
    assert r.status_code == 200, r.text
    grant = by_benefit(r.json())["suwon_birth_grant"]
    assert grant["eligibility"] == "undetermined" and grant["offer_status"] == "pending_review"
    assert grant["missing"] == ["household.months_resident"]
    assert [s["holds"] for s in grant["trace"]].count(None) == 1


def test_the_decision_equals_what_the_worker_stores_for_the_same_birth(stack: Stack) -> None:
    household, parents, event = stored_birth(stack, SUWON)
    r = stack.client.post("/v1/evaluations", json=what_if([parents[0]], event), headers=citizen_headers(parents[0]))
    assert r.status_code == 200, r.text
    offered = {
        (d["benefit_id"], d["beneficiary_id"]): d for d in r.json()["decisions"] if d["offer_status"] is not None
    }
    with stack.sessions() as session:  # the what-if wrote nothing
        assert session.scalars(select(EntitlementRow).where(EntitlementRow.household_id == household)).all() == []
    worker = processor(Settings(database_url=stack.database_url))
    value = json.dumps(event).encode()
    worker.process([Record("life-events", 0, 0, None, value, [("content-type", STRUCTURED)])])
    with stack.sessions() as session:
        rows = session.scalars(select(EntitlementRow).where(EntitlementRow.household_id == household)).all()
        stored = {
            (row.benefit_id, row.beneficiary_id): {
                "eligibility": row.eligibility,
                "offer_status": row.status,
                "amount_krw": row.amount_krw,
                "deadlines": [(d.kind.value, d.last_day.isoformat()) for d in row.dated_deadlines()],
                "missing": row.missing,
                "reason_ko": row.reason_ko,
                "reason_en": row.reason_en,
                "trace": row.trace,
                "decided_on": row.evaluated_on.isoformat(),
            }
            for row in rows
        }
    assert len(stored) >= 5 and set(offered) == set(stored)
    assert any(s["offer_status"] == "pending_review" for s in stored.values())  # residence unknown: undetermined
    for key, decision in offered.items():
        shown = {name: decision[name] for name in stored[key]}
        shown["deadlines"] = [(d["kind"], d["date"]) for d in decision["deadlines"]]
        assert shown == stored[key], key


def test_a_citizen_may_ask_only_about_themselves(stack: Stack) -> None:
    _, parents, event = stored_birth(stack, SUWON)
    _, strangers, _ = stored_birth(stack, SUWON)
    mine = what_if([parents[0]], event)
    assert stack.client.post("/v1/evaluations", json=mine, headers=citizen_headers(parents[0])).status_code == 200
    # Another stored person (even the spouse: only oneself is named), and an id that does not exist: the same 404.
    for other in (strangers[0], parents[1], "nobody-at-all"):
        r = stack.client.post("/v1/evaluations", json=what_if([other], event), headers=citizen_headers(parents[0]))
        assert r.status_code == 404, (other, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert other not in r.text
    # A purely hypothetical situation needs no stored person: a citizen may ask it.
    assert stack.client.post("/v1/evaluations", json=example(), headers=citizen_headers("anyone")).status_code == 200


def test_a_caseworker_reads_stored_people_only_in_their_municipalities(stack: Stack) -> None:
    _, suwon_parents, suwon_event = stored_birth(stack, SUWON)
    _, seoul_parents, seoul_event = stored_birth(stack, GANGNAM)
    ok = stack.client.post(
        "/v1/evaluations", json=what_if([suwon_parents[0]], suwon_event), headers=stack.bearer("kim.suwon")
    )
    assert ok.status_code == 200, ok.text
    far = stack.client.post(
        "/v1/evaluations", json=what_if([seoul_parents[0]], seoul_event), headers=stack.bearer("kim.suwon")
    )
    assert far.status_code == 404
    with stack.sessions() as session:
        actions = session.scalars(select(AuditRow).where(AuditRow.account == "kim.suwon").order_by(AuditRow.id)).all()
    assert [(a.action, a.data_subject) for a in actions[-2:]] == [
        ("evaluation.run", suwon_parents[0]),
        ("evaluation.run.denied", seoul_parents[0]),
    ]
    # Agencies' keys and auditors do not evaluate.
    assert stack.client.post("/v1/evaluations", json=example(), headers=stack.bearer("jung.audit")).status_code == 403
    assert stack.client.post("/v1/evaluations", json=example()).status_code == 401


def _broken(change: Any) -> dict[str, Any]:
    situation = copy.deepcopy(example())
    change(situation)
    return situation


HOSTILE = {
    "version": (lambda s: s.update(version="2027-01"), "body.version"),
    "municipality code": (
        lambda s: s["households"][0].update(municipality_code="4111７"),
        "body.households.0.municipality_code",
    ),
    "markup in an id": (
        lambda s: s["households"][0]["members"][0].update(id="<img src=x onerror=alert(1)>"),
        "body.households.0.members.0.id",
    ),
    "implausible date": (
        lambda s: s["households"][0]["members"][0].update(birth_date="9999-12-01"),
        "body.households.0.members.0.birth_date",
    ),
    "a date as a number": (lambda s: s.update(date=1767225600), "body.date"),
    "a date beyond the forecast horizon": (lambda s: s.update(date="2100-01-01"), "body.date"),
    "too many people": (
        lambda s: s["households"][0]["members"].extend({"id": f"p{i}", "role": "adult"} for i in range(20)),
        "body.households.0.members",
    ),
    "too many events": (lambda s: s["events"].extend([s["events"][0]] * 50), "body.events"),
    "unknown event type": (lambda s: s["events"][0].update(type="kr.go.mois.alien.landed"), "body.events.0"),
    "event field": (
        lambda s: s["events"][0]["data"].update(birth_order="2"),
        "body.events.0.kr.go.mois.birth.registered.data.birth_order",
    ),
    "unknown fact": (lambda s: s["households"][0]["facts"].update(favourite_colour="red"), "body.households.0.facts"),
    "event after the date": (lambda s: s.update(date="2026-11-01"), "body"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_bad_input_is_a_problem_naming_the_field(stack: Stack, case: str) -> None:
    change, field = HOSTILE[case]
    r = stack.client.post("/v1/evaluations", json=_broken(change), headers=stack.bearer("kim.suwon"))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    fields = [e["field"] for e in r.json()["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    assert "<img" not in r.text


def test_a_contradicting_event_is_refused_naming_it(stack: Stack) -> None:
    situation = example()
    situation["events"].append(
        {
            "type": "kr.go.mois.death.registered",
            "data": {
                "deceased": {"id": "someone-unknown", "birth_date": "1950-01-01", "death_date": "2026-11-12"},
                "municipality_code": "41117",
                "registered_on": "2026-11-13",
            },
        }
    )
    r = stack.client.post("/v1/evaluations", json=situation, headers=stack.bearer("kim.suwon"))
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == "body.events.1"


def test_the_openapi_document_declares_the_route_and_its_problems(stack: Stack) -> None:
    document = stack.client.get("/openapi.json").json()
    operation = document["paths"]["/v1/evaluations"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Situation"
    }
    assert {"200", "401", "403", "404", "422"} <= set(operation["responses"])
    assert operation["responses"]["422"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert "Evaluation" in document["components"]["schemas"]


def test_the_day_asked_about_may_lie_ahead_within_the_forecast_horizon(stack: Stack) -> None:
    # "What will the family get after the first birthday?": the events are records (no later than tomorrow), the
    # day asked about may be up to five years ahead; the offers open then are re-checked on it.
    situation = {**example(), "date": "2027-12-01"}
    r = stack.client.post("/v1/evaluations", json=situation, headers=stack.bearer("kim.suwon"))
    assert r.status_code == 200, r.text
    assert r.json()["date"] == "2027-12-01"
