"""One PersonId and one MunicipalityCode (events/people.py) for every contract, the birth contract included: no
contract has an id or code pattern of its own, and an id one contract refuses, every contract refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from events.contracts import CONTRACTS, LOOP_CONTRACTS
from events.people import MUNICIPALITY_CODE_PATTERN, PERSON_ID_PATTERN
from tests.events.test_plausible_contracts import EVENTS, refused_field

PERSON_ID_FIELDS = ("id", "citizen_id", "movers")
MODELS = [c.data_model for c in CONTRACTS.values()] + list(LOOP_CONTRACTS.values())


def patterns(schema: dict[str, Any], model: dict[str, Any], suffixes: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(property, its pattern) of every property, at any depth, whose name ends with one of `suffixes`."""
    found = []
    for name, prop in model.get("properties", {}).items():
        target = prop.get("items", prop)
        if "$ref" in target:
            found += patterns(schema, schema["$defs"][target["$ref"].rsplit("/", 1)[1]], suffixes)
        elif name.endswith(suffixes):
            found.append((name, target.get("pattern")))
    return found


@pytest.mark.parametrize("model", MODELS, ids=[m.__name__ for m in MODELS])
def test_every_person_id_and_municipality_code_has_the_one_pattern(model: Any) -> None:
    schema = model.model_json_schema()
    ids = [p for p in patterns(schema, schema, PERSON_ID_FIELDS) if p[0] in PERSON_ID_FIELDS]
    codes = patterns(schema, schema, ("municipality_code",))
    assert ids or codes
    assert {pattern for _, pattern in ids} <= {PERSON_ID_PATTERN}, ids
    assert {pattern for _, pattern in codes} <= {MUNICIPALITY_CODE_PATTERN}, codes


def person_id_fields(value: Any, path: str = "") -> list[str]:
    if isinstance(value, dict):
        return [f for k, v in value.items() for f in person_id_fields(v, f"{path}{k}.")]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in person_id_fields(v, f"{path}{i}.")]
    name = path.rstrip(".")
    parts = name.split(".")
    is_id = parts[-1] in ("id", "citizen_id") or (len(parts) > 1 and parts[-2] == "movers")
    return [name] if is_id else []


def with_value(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    *parents, last = dotted.split(".")
    target: Any = copy
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[int(last) if isinstance(target, list) else last] = value
    return copy


# Ids the other contracts refused while the birth contract, with a pattern of its own, took them.
@pytest.mark.parametrize("bad_id", ["1abc", "-m1", "_m1", "m" * 65, "m1/2", "m1 ", "m1\n", "m1#", "ｍ1", "m\u00e91"])
def test_an_id_one_contract_refuses_every_contract_refuses(bad_id: str) -> None:
    refused = {}
    for event_type, source, data in EVENTS:
        for field in person_id_fields(data):
            refused[(event_type, field)] = refused_field(event_type, source, with_value(data, field, bad_id))
    assert ("kr.go.mois.birth.registered", "child.id") in refused
    assert all(named == f"data.{field}" for (_, field), named in refused.items()), refused
