"""Every contract refuses what no registry writes: dates outside 1900..tomorrow, numbers where dates belong,
strings where integers belong, and identifiers that are not plain ASCII (markup, whitespace, a final newline)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from events.cloudevents import parse_binary, parse_structured
from events.contracts import validate
from events.errors import InvalidEvent
from events.values import REGISTRY_TIME_ZONE

TOMORROW = datetime.now(REGISTRY_TIME_ZONE).date() + timedelta(days=1)
AFTER_TOMORROW = (TOMORROW + timedelta(days=1)).isoformat()
REGISTRY = "/agencies/mois/registry/41110"


def person(pid: str = "p1", born: Any = "1980-01-01") -> dict[str, Any]:
    return {"id": pid, "birth_date": born}


# (type, source, data, {dotted date field: how to set it}); every date field of every contract is listed.
EVENTS: list[tuple[str, str, dict[str, Any]]] = [
    ("kr.go.mois.birth.registered", REGISTRY, {
        "child": {"id": "c1", "birth_date": "2024-03-01"}, "parents": [{"id": "m1", "role": "mother"}],
        "birth_order": 1, "municipality_code": "41110", "registered_on": "2024-03-05"}),
    ("kr.go.mois.death.registered", REGISTRY, {
        "deceased": {"id": "d1", "birth_date": "1950-01-01", "death_date": "2024-05-01"},
        "municipality_code": "41110", "registered_on": "2024-05-02"}),
    ("kr.go.mois.address.moved", REGISTRY, {
        "movers": ["p1"], "from_municipality_code": "11650", "to_municipality_code": "41110",
        "moved_on": "2024-04-01", "registered_on": "2024-04-02"}),
    ("kr.go.mois.marriage.registered", REGISTRY, {
        "spouses": [person("p1"), person("p2")], "municipality_code": "41110", "registered_on": "2024-04-02"}),
    ("kr.go.moel.employment.lost", "/agencies/moel/employment-insurance", {
        "person": person(), "separated_on": "2024-04-01", "separation_reason": "involuntary",
        "insured_days": 300, "average_daily_wage": 80000, "municipality_code": "41110"}),
    ("kr.go.mohw.disability.registered", "/agencies/mohw/disability-registry", {
        "person": person(), "severity": "severe", "registered_on": "2024-04-01", "municipality_code": "41110"}),
    ("kr.go.nhis.income.assessed", "/agencies/nhis/assessment", {
        "person": person(), "household_median_income_ratio": 40, "recognized_income_krw": 500000,
        "livelihood_recipient": False, "is_couple": True, "assessed_on": "2024-04-01"}),
    ("kr.go.beforeservice.milestone.reached", "/beforeservice/scheduler", {
        "person": person(), "milestone": "turns_65_soon", "on": "2024-04-01"}),
    ("kr.go.nhis.application.received", "/agencies/nhis/benefits", {
        "benefit_id": "child_allowance", "citizen_id": "p1", "received_on": "2024-04-01"}),
    ("kr.go.nhis.benefit.granted", "/agencies/nhis/benefits", {
        "benefit_id": "child_allowance", "citizen_id": "p1", "granted_on": "2024-04-01", "amount_krw": 100000}),
]  # fmt: skip


def date_fields(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in date_fields(v, f"{path}{k}.")]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in date_fields(v, f"{path}{i}.")]
    return [path.rstrip(".")] if isinstance(value, str) and value[:2] in ("19", "20") and len(value) == 10 else []


def with_value(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    *parents, last = dotted.split(".")
    target: Any = copy
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = value
    return copy


def check(event_type: str, source: str, data: dict[str, Any], **envelope: Any) -> Any:
    body = {"specversion": "1.0", "id": "e1", "source": source, "type": event_type, "data": data, **envelope}
    return validate(parse_structured(json.dumps(body)))


def refused_field(event_type: str, source: str, data: dict[str, Any], **envelope: Any) -> str:
    with pytest.raises(InvalidEvent) as refused:
        check(event_type, source, data, **envelope)
    assert refused.value.status in (400, 422)
    return refused.value.errors[0].field


@pytest.mark.parametrize(("event_type", "source", "data"), EVENTS, ids=[e[0] for e in EVENTS])
def test_every_valid_sample_is_accepted(event_type: str, source: str, data: dict[str, Any]) -> None:
    assert check(event_type, source, data).type == event_type


CASES = [(event_type, source, data, field) for event_type, source, data in EVENTS for field in date_fields(data)]


@pytest.mark.parametrize(("event_type", "source", "data", "field"), CASES, ids=[f"{c[0]}:{c[3]}" for c in CASES])
@pytest.mark.parametrize(
    "bad",
    ["9999-12-01", "2100-01-01", AFTER_TOMORROW, "1899-12-31", "0001-01-01", 1709251200, 20240301.0, "2024-3-1",
     "2024-03-01T00:00:00", "２０２４-03-01", True, None],
)  # fmt: skip
def test_every_date_field_refuses_implausible_or_non_string_dates(
    event_type: str, source: str, data: dict[str, Any], field: str, bad: Any
) -> None:
    assert refused_field(event_type, source, with_value(data, field, bad)) == f"data.{field}"


def test_tomorrow_is_within_the_clock_skew_and_1900_is_the_earliest_birth() -> None:
    event_type, source, data = EVENTS[0]
    born_tomorrow = with_value(
        with_value(data, "child.birth_date", TOMORROW.isoformat()), "registered_on", TOMORROW.isoformat()
    )
    assert check(event_type, source, born_tomorrow)
    event_type, source, data = EVENTS[1]
    assert check(event_type, source, with_value(data, "deceased.birth_date", "1900-01-01"))


@pytest.mark.parametrize(
    ("event_type", "field", "bad"),
    [
        ("kr.go.mois.birth.registered", "birth_order", "1"),
        ("kr.go.mois.birth.registered", "birth_order", 1.0),
        ("kr.go.mois.birth.registered", "birth_order", True),
        ("kr.go.moel.employment.lost", "insured_days", "300"),
        ("kr.go.nhis.income.assessed", "recognized_income_krw", 10**30),
        ("kr.go.nhis.income.assessed", "livelihood_recipient", "false"),
        ("kr.go.nhis.income.assessed", "is_couple", 1),
        ("kr.go.nhis.benefit.granted", "amount_krw", "100000"),
    ],
)
def test_integers_and_booleans_are_strict(event_type: str, field: str, bad: Any) -> None:
    _, source, data = next(e for e in EVENTS if e[0] == event_type)
    assert refused_field(event_type, source, with_value(data, field, bad)) == f"data.{field}"


@pytest.mark.parametrize(
    "bad_id",
    ["m1\n", " m1", "m1 ", "<b>m1</b>", "1abc", "m\u00e91", "ｍ1", "m1\u200b", "-m1"],
)
def test_birth_person_ids_follow_the_one_person_id_pattern(bad_id: str) -> None:
    event_type, source, data = EVENTS[0]
    for field in ("child.id", "parents.0.id"):
        assert refused_field(event_type, source, with_value(data, field, bad_id)) == f"data.{field}"


@pytest.mark.parametrize("bad_code", ["4111", "411100", "41110\n", "٤١١١٠", "４１１１０", " 41110"])
def test_municipality_codes_are_five_ascii_digits(bad_code: str) -> None:
    for event_type, source, data in EVENTS:
        for field in [f for f in ("municipality_code", "from_municipality_code") if f in data]:
            assert refused_field(event_type, source, with_value(data, field, bad_code)) == f"data.{field}"


@pytest.mark.parametrize(
    ("attribute", "bad"),
    [
        ("id", "e1\n"),
        ("id", "e1\r\n"),
        ("id", '<button hx-post="/console/bulk" hx-trigger="load">'),
        ("id", "e 1"),
        ("id", "é1"),
        ("id", ""),
        ("source", REGISTRY + "\n"),
        ("source", REGISTRY + "/"),
        ("source", "/agencies/mois//registry/41110"),
        ("source", "/agencies/mois/../mois/registry/41110"),
        ("source", "/agencies/mois/./registry/41110"),
        ("source", "/agencies/mois/registry/٤١١١٠"),
        ("source", "agencies/mois/registry/41110"),
        ("subject", "c1\n"),
        ("subject", "<i>c1</i>"),
        ("partitionkey", "m1\n"),
        ("partitionkey", "m1<script>"),
        ("type", "kr.go.mois.birth.registered\n"),
        ("time", 1709251200),
        ("time", "9999-12-31T23:00:00-05:00"),
        ("dataschema", 'https://x/"><script>'),
        ("datacontenttype", "application/json<x>"),
        ("traceparent", "<img src=x onerror=alert(1)>"),
        ("traceparent", "x\ud800"),
        ("traceparent", {"nested": "object"}),
        ("traceparent", "é"),
    ],
)
def test_envelope_attributes_are_tight_ascii(attribute: str, bad: Any) -> None:
    event_type, source, data = EVENTS[0]
    envelope = {attribute: bad}
    if attribute == "source":
        source = bad
        envelope = {}
    assert refused_field(event_type, source, data, **envelope) == attribute


@pytest.mark.parametrize("name", ["Trace", "trace\n", "a" * 21, "trace-id", "ｔrace"])
def test_extension_attribute_names_follow_the_cloudevents_naming_rule(name: str) -> None:
    event_type, source, data = EVENTS[0]
    with pytest.raises(InvalidEvent, match="attribute name"):
        check(event_type, source, data, **{name: "x"})


def test_a_trailing_newline_on_id_or_source_is_refused_in_binary_mode_too() -> None:
    _, source, data = EVENTS[0]
    for attribute, value in (("id", "e1\n"), ("source", source + "\n")):
        headers = {"ce_specversion": "1.0", "ce_id": "e1", "ce_source": source, "ce_type": EVENTS[0][0]}
        headers[f"ce_{attribute}"] = value
        with pytest.raises(InvalidEvent) as refused:
            validate(parse_binary([(k, v.encode()) for k, v in headers.items()], json.dumps(data).encode(), "ce_"))
        assert refused.value.errors[0].field == attribute


def test_loop_sources_refuse_dot_segments_even_where_the_agency_prefix_matches() -> None:
    event_type, _, data = EVENTS[-1]
    assert refused_field(event_type, "/agencies/nhis/../moel/benefits", data) == "source"
    assert check(event_type, "/agencies/nhis/benefits.v2", data)


def test_nesting_a_thousand_levels_deep_is_an_invalid_event_not_a_crash() -> None:
    with pytest.raises(InvalidEvent, match="nested too deeply"):
        parse_structured(b"[" * 100_000 + b"]" * 100_000)


def test_binary_headers_that_are_not_utf8_are_an_invalid_event() -> None:
    with pytest.raises(InvalidEvent, match="not UTF-8"):
        parse_binary([("ce_specversion", b"1.0"), ("ce_id", b"\xff\xfe")], b"{}", "ce_")
