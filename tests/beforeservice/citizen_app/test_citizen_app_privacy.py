"""The app shows a citizen their own offers only, a consent withdrawn in the consent centre holds before the
next push, and sign-in refuses what is not a pseudonymous citizen id (never an RRN). Real stack, as the e2e test."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.citizen_app.offer_actions import declined_offers
from entitlements.persistence.tables import EntitlementRow
from notifiers.tables import NotificationRow
from tests.beforeservice.citizen_app.conftest import shot, sign_in, wcag_violations
from tests.conftest import Component, citizen_headers, wait_for
from tests.support.births import birth_event, register_device, seed_household
from tests.support.fcm_server import LocalFcmServer

pytestmark = pytest.mark.integration
STRUCTURED = {"content-type": "application/cloudevents+json"}


def _offer_ids(sessions: sessionmaker[Session], event_id: str) -> dict[str, str]:
    with sessions() as session:
        rows = session.execute(
            select(EntitlementRow.benefit_id, EntitlementRow.id).where(EntitlementRow.event_id == event_id)
        )
        return {benefit: offer for benefit, offer in rows}


def _dispatched(sessions: sessionmaker[Session], recipient: str, event_id: str) -> bool:
    with sessions() as session:
        row = session.scalars(
            select(NotificationRow).where(
                NotificationRow.recipient_id == recipient, NotificationRow.event_id == event_id
            )
        ).first()
        return row is not None and row.dispatch_status != "pending"


def test_own_offers_only_and_withdrawal_holds_before_the_next_push(
    phone: Page,
    api: httpx.Client,
    worker: Component,
    fcm: tuple[LocalFcmServer, Path],
    sessions: sessionmaker[Session],
) -> None:
    server, _ = fcm
    seed_household(sessions, "hh-lee", ["m-lee", "f-lee"], "41110", date(2021, 5, 1))
    seed_household(sessions, "hh-park", ["m-park"], "11680", date(2020, 1, 1))
    register_device(sessions, "m-lee", "token-lee-phone")  # opted in to childbirth pushes
    first = birth_event(mother="m-lee", father="f-lee", birth_order=1)
    other = birth_event(mother="m-park", birth_order=1, municipality="11680")
    for event in (first, other):
        assert api.post("/v1/events", content=event.to_structured(), headers=STRUCTURED).status_code == 202
    wait_for(lambda: _dispatched(sessions, "m-lee", first.id) and _dispatched(sessions, "m-park", other.id))
    assert [m["token"] for m in server.received] == ["token-lee-phone"]
    parks_offer = next(iter(_offer_ids(sessions, other.id).values()))
    lees = _offer_ids(sessions, first.id)

    # Another citizen's offer is not found, in the app and in the API; the own one opens.
    sign_in(phone, "m-lee")
    foreign = phone.request.get(f"/app/offers/{parks_offer}")
    assert foreign.status == 404 and "찾을 수 없습니다" in foreign.text()
    assert parks_offer not in foreign.text()
    headers = citizen_headers("m-lee")
    assert api.post(f"/v1/citizens/m-lee/offers/{parks_offer}/applied", headers=headers).status_code == 404
    assert api.post(f"/v1/citizens/m-lee/offers/{parks_offer}/declined", headers=headers).status_code == 404
    assert api.post(f"/v1/citizens/m-park/offers/{parks_offer}/applied", headers=headers).status_code == 404
    with sessions() as session:
        assert session.get(EntitlementRow, parks_offer).status == "notified"  # type: ignore[union-attr]

    # "Not for me": recorded, the offer itself stays open (the right stands).
    phone.goto(f"/app/offers/{lees['childcare_information']}")
    phone.get_by_role("button", name="저와는 관계없어요").click()
    expect(phone.get_by_role("status")).to_contain_text("해당 없음으로 표시했습니다")
    with sessions() as session:
        assert lees["childcare_information"] in declined_offers(session, "m-lee")
        assert session.get(EntitlementRow, lees["childcare_information"]).status == "viewed"  # type: ignore[union-attr]

    # A form without the session's CSRF token changes nothing.
    forged = phone.request.post(f"/app/offers/{lees['child_allowance']}/applied", form={"csrf_token": "forged"})
    assert forged.status == 403
    with sessions() as session:
        assert session.get(EntitlementRow, lees["child_allowance"]).status == "notified"  # type: ignore[union-attr]

    # Withdraw the push consent in the consent centre: the next birth's notification is not pushed.
    phone.goto("/app/consents")
    expect(phone.get_by_text("앱 알림: 동의함", exact=False).first).to_be_visible()
    phone.get_by_role("button", name="출산·육아 앱 알림 철회").click()
    expect(phone.get_by_role("status")).to_contain_text("동의를 철회했습니다")
    assert wcag_violations(phone) == []
    shot(phone, "07-consent-withdrawn")
    second = birth_event(mother="m-lee", father="f-lee", birth_order=2)
    assert api.post("/v1/events", content=second.to_structured(), headers=STRUCTURED).status_code == 202
    wait_for(lambda: _dispatched(sessions, "m-lee", second.id), what="the second birth's notification")
    assert [m["token"] for m in server.received] == ["token-lee-phone"]  # still the first push only
    with sessions() as session:
        row = session.scalars(
            select(NotificationRow).where(
                NotificationRow.recipient_id == "m-lee", NotificationRow.event_id == second.id
            )
        ).one()
    assert row.dispatch_status == "inbox_only"

    # Preferences and devices pages pass axe as well.
    phone.goto("/app/preferences")
    phone.get_by_label("English").check()
    phone.get_by_label("직접 정하기").check()  # her own quiet hours, which the dispatcher honours
    phone.get_by_label("시작").fill("23:30")
    phone.get_by_label("끝", exact=True).fill("06:00")
    phone.get_by_role("button", name="저장").click()
    expect(phone.get_by_role("status")).to_contain_text("Saved.")  # the app now speaks her chosen language
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    expect(phone.get_by_label("English")).to_be_checked()
    assert wcag_violations(phone) == []
    shot(phone, "08-preferences")
    chosen = api.get("/v1/citizens/m-lee/preferences", headers=headers).json()
    assert (chosen["language"], chosen["quiet_hours_start"], chosen["quiet_hours_end"]) == ("en", "23:30", "06:00")


@pytest.mark.parametrize(
    ("subject", "refusal"),
    [
        ("900101-1234568", "is not a pseudonymous citizen id"),  # an RRN-shaped subject is never a citizen id
        ("<script>x</script>", "is not a pseudonymous citizen id"),
    ],
)
def test_sign_in_refuses_what_is_not_a_citizen_id(phone: Page, api: httpx.Client, subject: str, refusal: str) -> None:
    phone.goto("/app/login")
    phone.get_by_role("link", name="간편인증으로 로그인").click()
    phone.locator('input[name="sub"]').fill(subject)
    phone.get_by_role("button", name="Authorize").click()
    expect(phone.get_by_role("alert")).to_contain_text(refusal)
    assert subject not in phone.content()
    phone.goto("/app/")
    expect(phone).to_have_url(f"{str(api.base_url).rstrip('/')}/app/login")  # no session was started
