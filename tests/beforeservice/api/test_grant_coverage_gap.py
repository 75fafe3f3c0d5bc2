"""The gap in the municipal tables is visible to caseworkers: a family in a 시군구 without a grant row gets the
information offer, and the review queue lists those offers under status=coverage_gap (docs/rules-format.md)."""

from __future__ import annotations

import uuid

import pytest

from beforeservice.bootstrap import processor
from beforeservice.console.accounts import add_caseworker
from beforeservice.settings import Settings
from entitlements.batch import Record
from tests.beforeservice.api.stack import PASSWORD, SUWON, Stack
from tests.support.births import birth_event, seed_household

pytestmark = pytest.mark.integration
DAEGU_JUNGGU = "27110"  # 대구 중구: no row in the table yet


def _birth(stack: Stack, municipality: str) -> str:
    tag = uuid.uuid4().hex[:8]
    parents = [f"m-{tag}", f"f-{tag}"]
    seed_household(stack.sessions, f"hh-{tag}", parents, municipality, None)
    event = birth_event(mother=parents[0], father=parents[1], child=f"c-{tag}", municipality=municipality)
    record = Record(
        "life-events", 0, 0, None, event.to_structured(), [("content-type", b"application/cloudevents+json")]
    )
    if stack.processor is None:
        stack.processor = processor(Settings(database_url=stack.database_url))
    stack.processor.process([record])
    return f"c-{tag}"


def test_the_review_queue_lists_the_information_offers_standing_in_for_missing_rows(stack: Stack) -> None:
    with stack.sessions.begin() as session:
        add_caseworker(session, "han.national", PASSWORD, role="supervisor", agencies=["*"], municipalities=["*"])
    gap_child = _birth(stack, DAEGU_JUNGGU)
    covered_child = _birth(stack, SUWON)
    han = stack.bearer("han.national")

    gaps = stack.client.get("/v1/review/cases", params={"status": "coverage_gap"}, headers=han)
    assert gaps.status_code == 200, gaps.text
    listed = {(c["benefit_id"], c["beneficiary"]) for c in gaps.json()}
    assert ("local_birth_grant_information_27110", gap_child) in listed
    assert all(c["benefit_id"].startswith("local_birth_grant_information_") for c in gaps.json())
    assert not any(beneficiary == covered_child for _, beneficiary in listed)  # 수원 has its row
    # By place, as a municipality's caseworker would filter it.
    in_daegu = stack.client.get(
        "/v1/review/cases", params={"status": "coverage_gap", "municipality": "27"}, headers=han
    ).json()
    assert {c["municipality"][:2] for c in in_daegu} == {"27"}
