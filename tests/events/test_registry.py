"""One place to register a life event (events/contracts.py): validation, the partition key, the batch's people, the
matching handlers, the notification templates, the published schemas and the docs all read the registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from entitlements import matching
from events.cloudevents import parse_structured
from events.contracts import CONTRACTS, data_models, partition_key, people_of, validate
from notifiers.rendering import LANGUAGES, TEMPLATE_OF_EVENT, TEMPLATES
from tests.events.test_plausible_contracts import EVENTS

ROOT = Path(__file__).resolve().parents[2]

# What the batch and Kafka used to compute type by type, for each sample event: (people, partition key).
EXPECTED: dict[str, tuple[list[str], str]] = {
    "kr.go.mois.birth.registered": (["m1", "c1"], "m1"),
    "kr.go.mois.death.registered": (["d1"], "subject-or-id"),
    "kr.go.mois.address.moved": (["p1"], "p1"),
    "kr.go.mois.marriage.registered": (["p1", "p2"], "p1"),
    "kr.go.moel.employment.lost": (["p1"], "subject-or-id"),
    "kr.go.mohw.disability.registered": (["p1"], "subject-or-id"),
    "kr.go.nhis.income.assessed": (["p1"], "subject-or-id"),
    "kr.go.beforeservice.milestone.reached": (["p1"], "subject-or-id"),
    "kr.go.nhis.application.received": (["p1"], "subject-or-id"),
    "kr.go.nhis.benefit.granted": (["p1"], "subject-or-id"),
}


@pytest.mark.parametrize(("event_type", "source", "data"), EVENTS, ids=[e[0] for e in EVENTS])
def test_people_and_partition_key_come_from_the_registry(event_type: str, source: str, data: dict[str, Any]) -> None:
    body = {"specversion": "1.0", "id": "subject-or-id", "source": source, "type": event_type, "data": data}
    event = validate(parse_structured(json.dumps(body)))
    people, key = EXPECTED[event_type]
    assert people_of(event) == people
    assert partition_key(event) == key
    keyed = validate(parse_structured(json.dumps({**body, "partitionkey": "hh-1"})))
    assert partition_key(keyed) == "hh-1"  # the CloudEvents extension wins


def test_every_registered_event_is_handled_rendered_published_and_documented() -> None:
    handled = {kind for kind, _ in matching._HANDLERS}
    assert set(data_models()) <= handled
    docs = (ROOT / "docs" / "life-events.md").read_text(encoding="utf-8")
    for event_type, contract in CONTRACTS.items():
        assert contract.name and TEMPLATE_OF_EVENT[event_type] == contract.name
        for lang in LANGUAGES:
            assert (TEMPLATES / f"{contract.name}.{lang}.j2").is_file()
        assert (ROOT / "docs" / "schemas" / f"{event_type}.json").is_file()
        assert f"| `{event_type}` |" in docs


NEW_EVENT = """
from pydantic import BaseModel
from events.contracts import CONTRACTS, Contract

class AdoptionRegistered(BaseModel):
    child_id: str

CONTRACTS["kr.go.mois.adoption.registered"] = Contract(
    "kr.go.mois.adoption.registered", AdoptionRegistered, "^/agencies/mois$", None,
    people=lambda d: [d.child_id], name="adoption_registered",
)
"""


@pytest.mark.parametrize(
    ("reader", "complaint"),
    [
        ("import entitlements.matching", "no matching handler for ['AdoptionRegistered']"),
        ("from notifiers.rendering import NotificationTemplates; NotificationTemplates()", "adoption_registered.ko.j2"),
    ],
)
def test_a_registered_event_without_handler_or_templates_stops_the_process_at_start_up(
    reader: str, complaint: str
) -> None:
    run = subprocess.run(
        [sys.executable, "-c", NEW_EVENT + reader], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert run.returncode != 0 and complaint in run.stderr, run.stderr[-2000:]
