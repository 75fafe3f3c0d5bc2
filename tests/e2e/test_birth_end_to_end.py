"""A birth registration becomes tailored offers and pushes, on real parts: tansu, SQLite/PostgreSQL, the Faust
worker and API as processes, and the real firebase-admin client talking to a local FCM server."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.broker import EmbeddedBroker
from entitlements.persistence.tables import EntitlementRow, ProcessedEventRow
from events.cloudevents import binary_headers
from events.producer import AgencyProducer
from notifiers.tables import NotificationRow
from tests.conftest import Component, citizen_headers, wait_for
from tests.support.births import birth_event, register_device, seed_household
from tests.support.dead_letters import dead_letters
from tests.support.fcm_server import LocalFcmServer

pytestmark = pytest.mark.integration

# A second child born 2024-03-01 in Suwon to a household resident there since 2021:
EXPECTED_SUWON_SECOND_CHILD = {
    "first_meeting_voucher": 3_000_000,
    "parental_benefit": 1_000_000,
    "child_allowance": 100_000,
    "kepco_birth_household_discount": 16_000,
    "suwon_birth_grant": 500_000,
    "childcare_information": None,
}


def entitlements_of(sessions: sessionmaker[Session], event_id: str) -> dict[str, EntitlementRow]:
    with sessions() as session:
        return {
            r.benefit_id: r for r in session.scalars(select(EntitlementRow).where(EntitlementRow.event_id == event_id))
        }


def notification_of(sessions: sessionmaker[Session], recipient: str) -> NotificationRow | None:
    with sessions() as session:
        return session.scalars(select(NotificationRow).where(NotificationRow.recipient_id == recipient)).first()


def dispatched(sessions: sessionmaker[Session], recipient: str) -> NotificationRow | None:
    row = notification_of(sessions, recipient)
    return row if row is not None and row.dispatch_status != "pending" else None


def test_kafka_birth_becomes_offers_inbox_and_one_push(
    broker: EmbeddedBroker,
    sessions: sessionmaker[Session],
    fcm: tuple[LocalFcmServer, Path],
    worker: Component,
    api: httpx.Client,
) -> None:
    server, _ = fcm
    seed_household(sessions, "hh-kim", ["m-kim", "f-kim"], "41110", date(2021, 5, 1))
    register_device(sessions, "m-kim", "token-mother-phone")  # the father has not consented to push
    event = birth_event(mother="m-kim", father="f-kim", child="c-kim", birth_order=2)

    producer = AgencyProducer(broker.bootstrap_servers)
    producer.send(event)
    producer.flush()

    wait_for(lambda: dispatched(sessions, "m-kim") and dispatched(sessions, "f-kim"), what="both parents notified")
    rows = entitlements_of(sessions, event.id)
    assert {b: r.amount_krw for b, r in rows.items()} == EXPECTED_SUWON_SECOND_CHILD
    assert {r.status for r in rows.values()} == {"notified"}
    parental = rows["parental_benefit"]
    assert parental.retroactive_until == date(2024, 4, 29)  # 60 days counting the birth date: back-pay, not closing
    assert (parental.deadline, parental.deadline_kind) == (date(2026, 2, 28), "entitlement_ends")  # before 2nd bday
    assert rows["child_allowance"].reason_ko.startswith("아동수당: ")
    assert "아동수당법" in rows["child_allowance"].reason_ko

    # Inbox: one notification per parent, bundling all six offers.
    inbox = api.get("/v1/citizens/m-kim/inbox", headers=citizen_headers("m-kim")).json()
    assert len(inbox["notifications"]) == 1
    entry = inbox["notifications"][0]
    offers = {o["benefit_id"]: o for o in entry["offers"]}
    assert {b: o["amount_krw"] for b, o in offers.items()} == EXPECTED_SUWON_SECOND_CHILD
    assert offers["first_meeting_voucher"]["name_ko"] == "첫만남이용권"
    assert offers["parental_benefit"]["deadline"] == "2026-02-28"
    retroactive = next(d for d in offers["parental_benefit"]["deadlines"] if d["kind"] == "retroactive_window")
    assert retroactive["last_day"] == "2024-04-29" and retroactive["passed"] is True  # it is 2024-04-30 or later
    assert "신청한 달부터 지급됩니다" in retroactive["meaning_ko"]  # the text changed: the right stands
    assert offers["parental_benefit"]["status"] == "notified"  # never expired
    assert "소급 기한: 2024-04-29까지 신청하면" in entry["message_ko"]  # as written at the birth registration
    assert "6가지 혜택" in entry["message_ko"] and "3,000,000원" in entry["message_ko"]
    assert "6 benefits" in entry["message_en"]
    assert api.get("/v1/citizens/m-kim/inbox").status_code == 401  # no token
    assert api.get("/v1/citizens/m-kim/inbox", headers=citizen_headers("f-kim")).status_code == 404  # not theirs
    father_inbox = api.get("/v1/citizens/f-kim/inbox", headers=citizen_headers("f-kim")).json()["notifications"]
    assert len(father_inbox) == 1 and len(father_inbox[0]["offers"]) == 6

    # Push: exactly one, to the consenting mother's device, with nothing personal on the lock screen.
    assert len(server.received) == 1
    message = server.received[0]
    assert message["token"] == "token-mother-phone"
    shown = message["notification"]["title"] + " " + message["notification"]["body"]
    assert shown == "출산을 축하합니다 6가지 혜택을 받으실 수 있어요. 앱에서 확인해 주세요."
    for personal in ("m-kim", "c-kim", "3,000,000", "3000000", "41110"):
        assert personal not in json.dumps(message["notification"], ensure_ascii=False)
    assert message["data"]["notification_id"] == entry["id"]
    assert message["android"]["notification"]["visibility"] == "PRIVATE"
    assert dispatched(sessions, "f-kim").dispatch_status == "inbox_only"  # type: ignore[union-attr]

    # Redelivery and replay create nothing twice.
    producer.send(event)
    sentinel = birth_event(mother="m-lee", birth_order=1, municipality="11650")
    producer.send(sentinel)
    producer.flush()
    wait_for(lambda: dispatched(sessions, "m-lee"), what="the sentinel event processed")
    assert len(entitlements_of(sessions, event.id)) == 6
    with sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(NotificationRow).where(NotificationRow.event_id == event.id)
            )
            == 2
        )
        assert session.scalar(select(func.count()).select_from(ProcessedEventRow)) == 2
    assert len(server.received) == 1
    producer.close()


@pytest.mark.parametrize("mode", ["structured", "binary"])
def test_http_birth_in_both_content_modes(
    mode: str,
    sessions: sessionmaker[Session],
    worker: Component,
    api: httpx.Client,
) -> None:
    event = birth_event(
        mother=f"m-{mode}",
        father=f"f-{mode}",
        birth_order=1,
        municipality="46820",
        born="2024-06-10",
        registered="2024-06-12",
    )
    if mode == "structured":
        response = api.post(
            "/v1/events", content=event.to_structured(), headers={"content-type": "application/cloudevents+json"}
        )
    else:
        headers = {name.replace("ce_", "ce-"): value.decode() for name, value in binary_headers(event, "ce-")}
        response = api.post("/v1/events", content=json.dumps(event.data), headers=headers)
    assert response.status_code == 202, response.text
    assert response.json() == {"id": event.id, "source": event.source, "type": event.type}

    wait_for(lambda: dispatched(sessions, f"m-{mode}"), what="the posted birth processed")
    inbox = api.get(f"/v1/citizens/m-{mode}/inbox", headers=citizen_headers(f"m-{mode}")).json()["notifications"]
    offers = {o["benefit_id"]: o for o in inbox[0]["offers"]}
    # First child, Haenam, residence unknown: the county grant has no residence condition.
    assert offers["haenam_newborn_childcare_grant"]["amount_krw"] == 3_000_000  # the 2025 increase is not yet in force
    assert offers["first_meeting_voucher"]["amount_krw"] == 2_000_000
    assert offers["parental_benefit"]["reason_en"].startswith("Parental Benefit: ")
    assert "suwon_birth_grant" not in offers


def test_bad_kafka_records_are_dead_lettered_and_good_ones_still_flow(
    broker: EmbeddedBroker,
    sessions: sessionmaker[Session],
    worker: Component,
) -> None:
    producer = AgencyProducer(broker.bootstrap_servers)
    good_before = birth_event(mother="m-before", birth_order=1)
    producer.send(good_before)
    valid = json.loads(birth_event(mother="m-x").to_structured())
    bad: dict[bytes, str] = {
        b"{not json": "not valid JSON",
        json.dumps({k: v for k, v in valid.items() if k != "source"}).encode(): "'source'",
        json.dumps({**valid, "specversion": "0.3"}).encode(): "'specversion'",
        json.dumps({**valid, "data": {**valid["data"], "birth_order": 0}}).encode(): "'data.birth_order'",
        json.dumps({**valid, "id": "evil\x07id"}).encode(): "'id'",
    }
    for value in bad:
        producer.send_raw(value, key=b"k")
    # Binary mode without ce_type:
    producer.send_raw(
        json.dumps(valid["data"]).encode(),
        key=b"k",
        headers=[("ce_specversion", b"1.0"), ("ce_id", b"x1"), ("ce_source", b"/agencies/mois/registry/41110")],
    )
    good_after = birth_event(mother="m-after", birth_order=1)
    producer.send(good_after)
    producer.flush()
    producer.close()

    letters = dead_letters(broker.bootstrap_servers, expected=len(bad) + 1, timeout=60)
    assert len(letters) == len(bad) + 1
    originals = {letter["value_b64"]: letter["reason"] for letter in letters}
    import base64

    for value, needle in bad.items():
        reason = originals[base64.b64encode(value).decode()]
        assert needle in reason, (needle, reason)
    assert any("'type'" in r for r in originals.values())
    wait_for(
        lambda: dispatched(sessions, "m-before") and dispatched(sessions, "m-after"),
        what="the good events around the bad ones processed",
    )


def test_http_refuses_bad_events_with_problem_details(
    sessions: sessionmaker[Session], worker: Component, api: httpx.Client
) -> None:
    structured = {"content-type": "application/cloudevents+json"}
    valid = json.loads(birth_event(mother="m-http").to_structured())

    # Only agencies post events: no key, or a wrong one, is refused before the body is read.
    r = api.post("/v1/events", content=json.dumps(valid), headers={**structured, "x-api-key": ""})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    r = api.post("/v1/events", content=json.dumps(valid), headers={**structured, "x-api-key": "bsa_nope_nope"})
    assert r.status_code == 401

    r = api.post("/v1/events", content=b"{oops", headers=structured)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "body"

    r = api.post("/v1/events", content=json.dumps({k: v for k, v in valid.items() if k != "id"}), headers=structured)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "id"

    bad_data = {**valid, "data": {**valid["data"], "child": {"id": "c1", "birth_date": "2024-02-30"}}}
    r = api.post("/v1/events", content=json.dumps(bad_data), headers=structured)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "data.child.birth_date"

    r = api.post("/v1/events", content=json.dumps({**valid, "type": "kr.go.mois.unknown"}), headers=structured)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "type"

    r = api.post("/v1/events", content=b"x" * 1_100_000, headers=structured)
    assert r.status_code == 413 and r.json()["status"] == 413

    r = api.post("/v1/events", content=b"hello", headers={"content-type": "text/plain"})
    assert r.status_code == 415

    r = api.post("/v1/events", content=json.dumps(valid), headers=structured)
    assert r.status_code == 202
    wait_for(lambda: dispatched(sessions, "m-http"), what="the good event after the refusals processed")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEventRow)) == 1
