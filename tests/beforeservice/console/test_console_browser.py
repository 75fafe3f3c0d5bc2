"""The caseworker console in headless Chromium: login by keyboard, the queue, a case, decisions, the dashboard,
the auditor's view — with screenshots in test-artifacts/console/ and axe-core's WCAG 2.1 AA checks."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from beforeservice.console.tables import AuditRow, ReviewCaseRow
from beforeservice.console.takeup import STAGES
from beforeservice.console.web_session import CSRF_FIELD
from entitlements.persistence.tables import EntitlementRow
from notifiers.tables import NotificationRow
from tests.beforeservice.api.stack import GANGNAM, PASSWORD, SUWON, Stack
from tests.beforeservice.console.conftest import shot
from tests.conftest import citizen_headers

pytestmark = pytest.mark.integration
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


def login(page: Page, username: str) -> None:
    """By keyboard only: the skip link first, then the labelled fields, Enter to submit."""
    page.goto("/console/login")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.get_by_label("아이디").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("비밀번호")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/(queue|audit)"))


def wcag_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(AXE))
    tags = "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']"
    result = page.evaluate(f"async () => await axe.run(document, {{runOnly: {{type: 'tag', values: {tags}}}}})")
    return [{"id": v["id"], "nodes": [n["html"] for n in v["nodes"]][:3]} for v in result["violations"]]


def test_login_review_approve_and_reject(page: Page, stack: Stack) -> None:
    approve_case, approve_child, parents = stack.pending_case(SUWON)
    reject_case, _, _ = stack.pending_case(SUWON)
    seoul_case, _, _ = stack.pending_case(GANGNAM)

    page.goto("/console/queue")
    expect(page).to_have_url(re.compile("/console/login"))  # no session, no console
    assert wcag_violations(page) == []
    page.get_by_label("아이디").fill("kim.suwon")
    page.get_by_label("비밀번호").fill("wrong password!")
    page.get_by_role("button", name="로그인").click()
    expect(page.get_by_role("alert")).to_contain_text("맞지 않습니다")
    shot(page, "01-login-error")
    login(page, "kim.suwon")
    cookie = next(c for c in page.context.cookies() if c["name"] == "bs_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # The queue: Suwon's cases only, masked, most urgent first.
    table = page.locator("#queue-table")
    expect(table.locator(f'a[href="/console/cases/{approve_case}"]')).to_be_visible()
    expect(table.locator(f'a[href="/console/cases/{seoul_case}"]')).to_have_count(0)
    assert approve_child not in page.content()
    assert wcag_violations(page) == []
    shot(page, "02-queue")

    # Filtering swaps the table in place (HTMX) and keeps the URL shareable.
    page.get_by_label("마감일 (이날까지)").fill("2000-01-01")
    expect(page.locator("#queue-table caption")).to_contain_text(" 0건")
    expect(page).to_have_url(re.compile("deadline_before=2000-01-01"))
    page.get_by_label("마감일 (이날까지)").fill("")
    page.get_by_label("혜택").select_option("suwon_birth_grant")
    expect(page).to_have_url(re.compile("benefit=suwon_birth_grant"))
    expect(table.locator(f'a[href="/console/cases/{approve_case}"]')).to_be_visible()

    # A case: masked summary, the trace with the undetermined condition, the missing fact, the timeline.
    table.locator(f'a[href="/console/cases/{approve_case}"]').click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("수원시 출산지원금")
    expect(page.get_by_text("household.months_resident").first).to_be_visible()
    expect(page.get_by_text("판단 불가").first).to_be_visible()
    expect(page.get_by_text("kr.go.mois.birth.registered").first).to_be_visible()
    assert approve_child not in page.content() and parents[0] not in page.content()
    assert wcag_violations(page) == []
    shot(page, "03-case")

    page.get_by_role("button", name="승인하고 안내 보내기").click()
    expect(page.locator("#case-status")).to_contain_text("승인")
    expect(page.locator("h1 .badge")).to_have_text("승인됨")
    shot(page, "04-approved")
    with stack.sessions() as session:
        assert session.get(EntitlementRow, approve_case).status == "matched"  # type: ignore[union-attr]
        outbox = [n for n in session.scalars(select(NotificationRow)) if approve_case in n.offer_ids]
        assert sorted(n.recipient_id for n in outbox) == sorted(parents)
        assert {n.dispatch_status for n in outbox} == {"pending"}

    # Reject: the reason is required by the form, then recorded.
    page.goto(f"/console/cases/{reject_case}")
    page.get_by_role("button", name="반려").click()
    expect(page.locator("h1 .badge")).to_have_text("검토 대기")  # the empty reason did not submit
    page.get_by_label("반려 사유").fill("수원시 전출 확인")
    page.get_by_role("button", name="반려").click()
    expect(page.locator("h1 .badge")).to_have_text("반려됨")
    expect(page.get_by_text("반려 사유: 수원시 전출 확인")).to_be_visible()
    shot(page, "05-rejected")

    # Another municipality's case by URL is not found, and the attempt is on record.
    response = page.goto(f"/console/cases/{seoul_case}")
    assert response is not None and response.status == 404
    with stack.sessions() as session:
        actions = list(
            session.scalars(select(AuditRow.action).where(AuditRow.account == "kim.suwon").order_by(AuditRow.id))
        )
    assert {"console.login", "queue.read", "case.read", "case.approve", "case.reject", "case.read.denied"} <= set(
        actions
    )


def test_bulk_assign_and_csrf(page: Page, stack: Stack) -> None:
    first, _, _ = stack.pending_case(SUWON)
    second, _, _ = stack.pending_case(SUWON)
    login(page, "lee.suwon")
    page.locator(f"#pick-{first}").check()
    page.locator(f"#pick-{second}").check()
    page.get_by_label("처리", exact=True).select_option("assign")
    page.get_by_label("배정할 담당자").select_option("kim.suwon")
    page.get_by_role("button", name="선택한 건 처리").click()
    expect(page.locator("#bulk-status")).to_contain_text("2건 처리했습니다")
    with stack.sessions() as session:
        assert session.get(ReviewCaseRow, first).assigned_to == "kim.suwon"  # type: ignore[union-attr]
        assert session.get(ReviewCaseRow, second).assigned_to == "kim.suwon"  # type: ignore[union-attr]

    # A forged form post (no CSRF token) with the victim's cookie is refused.
    forged = page.request.post(
        f"{stack.base_url}/console/cases/{first}/decision", form={"action": "approve"}, max_redirects=0
    )
    assert forged.status == 403
    with stack.sessions() as session:
        assert session.get(EntitlementRow, first).status == "pending_review"  # type: ignore[union-attr]


def _dashboard_cells(page: Page, benefit_id: str) -> list[str]:
    return page.locator(f'#takeup-table tr[data-group="{benefit_id}"] td').all_text_contents()


def _csv_rows(client: httpx.Client) -> list[dict[str, str]]:
    token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', client.get("/console/login").text).group(1)  # type: ignore[union-attr]
    client.post("/console/login", data={"username": "choi.gangnam", "password": PASSWORD, CSRF_FIELD: token})
    export = client.get("/console/dashboard.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(export.text)))


def test_dashboard_chart_and_csv(page: Page, stack: Stack) -> None:
    case, _, parents = stack.pending_case(SUWON)
    stack.client.post(
        f"/v1/review/cases/{case}/decision", json={"action": "approve"}, headers=stack.bearer("park.suwon")
    )
    login(page, "park.suwon")
    page.get_by_role("link", name="이용 현황").click()
    before = _dashboard_cells(page, "suwon_birth_grant")

    # "Not for me", said through the public API as any app would: declined by the citizen, not take-up.
    declined = stack.client.post(
        f"/v1/citizens/{parents[0]}/offers/{case}/declined", headers=citizen_headers(parents[0])
    )
    assert declined.status_code == 204
    page.reload()
    after = _dashboard_cells(page, "suwon_birth_grant")
    declined_column = len(STAGES) + 2  # stages, the applied rate, unreached, then declined
    assert int(after[declined_column]) == int(before[declined_column]) + 1
    assert after[STAGES.index("applied")] == before[STAGES.index("applied")]  # never counted as take-up
    assert int(page.locator("#declined-total").text_content() or "0") >= 1
    chart = page.locator("#funnel-chart")
    expect(chart).to_be_visible()
    description = chart.locator("desc").text_content() or ""
    matched = int(re.search(r"매칭 (\d+)명", description).group(1))  # type: ignore[union-attr]
    assert matched >= 1
    expect(page.locator("#takeup-table")).to_contain_text("수원시 출산지원금")
    assert wcag_violations(page) == []
    shot(page, "06-dashboard")
    page.get_by_role("link", name="채널별").click()
    expect(page.locator("#takeup-table")).to_contain_text("pending")

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV로 내려받기").click()
    csv_text = Path(download.value.path()).read_text()
    header, *lines = csv_text.strip().splitlines()
    assert header.startswith("benefit_id,benefit_name,municipality,channel,matched,notified,viewed,applied,granted")
    assert any(line.startswith("suwon_birth_grant,") for line in lines)
    exported = [r for r in csv.DictReader(io.StringIO(csv_text)) if r["benefit_id"] == "suwon_birth_grant"]
    assert sum(int(r["declined_by_citizen"]) for r in exported) == int(after[declined_column])
    assert sum(int(r["applied"]) for r in exported) == int(after[STAGES.index("applied")])
    with stack.sessions() as session:
        exports = session.scalars(select(AuditRow).where(AuditRow.action == "takeup.export")).all()
    assert exports and exports[-1].account == "park.suwon" and exports[-1].kind == "export"
    # Scope holds: Gangnam's caseworker sees none of Suwon's offers, declines included.
    with httpx.Client(base_url=stack.base_url) as gangnam:
        seen = _csv_rows(gangnam)
    assert all(r["municipality"] != SUWON and r["benefit_id"] != "suwon_birth_grant" for r in seen)


def test_auditor_sees_the_log_not_the_cases(page: Page, stack: Stack) -> None:
    assert stack.client.get("/v1/review/cases", headers=stack.bearer("kim.suwon")).status_code == 200
    login(page, "jung.audit")
    expect(page).to_have_url(re.compile("/console/audit"))
    expect(page.get_by_role("status")).to_contain_text("무결성 검증 통과")
    expect(page.locator("table")).to_contain_text("kim.suwon")
    assert wcag_violations(page) == []
    shot(page, "07-audit")
    response = page.goto("/console/queue")
    assert response is not None and response.status == 403
