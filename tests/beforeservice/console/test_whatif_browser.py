"""The console's what-if page in headless Chromium: a birth in a few fields, a situation pasted as YAML, hostile
text shown escaped, axe-core's WCAG 2.1 AA checks, and every run audited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from beforeservice.console.tables import AuditRow
from tests.beforeservice.api.stack import Stack
from tests.beforeservice.console.conftest import shot
from tests.beforeservice.console.test_console_browser import login, wcag_violations

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "birth-in-suwon.yaml"


def test_what_if_page(page: Page, stack: Stack) -> None:
    login(page, "kim.suwon")
    page.get_by_role("link", name="모의 판정").click()
    expect(page).to_have_url(re.compile("/console/whatif$"))
    assert wcag_violations(page) == []

    # A birth in the simple fields: a second child in Suwon, residence unknown.
    page.get_by_label("출생일").fill("2026-11-03")
    page.get_by_label("출생 순위").fill("2")
    page.get_by_label("시군구 코드 (5자리)").fill("41117")
    page.get_by_label("출생신고일").fill("2026-11-10")
    page.get_by_label("판정 기준일").fill("2026-11-20")
    page.get_by_role("button", name="판정하기").click()
    table = page.locator("#whatif-decisions")
    allowance = table.locator('tr[data-benefit="child_allowance"]')
    expect(allowance).to_contain_text("받을 수 있음")
    expect(allowance).to_contain_text("100,000원/월")
    expect(allowance).to_contain_text("소급 신청 기한 2027-01-04")  # day 60 is 신정 2027-01-01 (민법 제161조)
    expect(table.locator('tr[data-benefit="parental_benefit"]')).to_contain_text("1,000,000원/월")
    grant = table.locator('tr[data-benefit="suwon_birth_grant"]')
    expect(grant).to_contain_text("판단 불가")
    expect(grant).to_contain_text("household.months_resident")
    expect(page.locator("#h-reasons")).to_be_visible()
    expect(page.get_by_text("아동수당법 제4조제1항").first).to_be_visible()
    page.locator("details summary").first.click()
    assert wcag_violations(page) == []
    shot(page, "whatif-01-birth")

    # The documented example pasted as YAML.
    page.get_by_label("상황 파일 내용").fill(EXAMPLE.read_text())
    page.get_by_role("radio", name="상황 파일 (YAML 또는 JSON)").check()
    page.get_by_role("button", name="판정하기").click()
    expect(page.locator('tr[data-benefit="suwon_birth_grant"]')).to_contain_text("1,000,000원")
    expect(page.locator("#whatif-decisions caption")).to_contain_text("2026-11-20")

    # Hostile text comes back as text: the YAML error quotes it, escaped; nothing runs, nothing is injected.
    page.get_by_label("상황 파일 내용").fill('<img src=x id=pwned onerror="alert(1)">: [')
    page.get_by_role("button", name="판정하기").click()
    expect(page.locator("#whatif-problems")).to_contain_text('onerror="alert(1)">')
    expect(page.locator("#pwned")).to_have_count(0)
    assert wcag_violations(page) == []
    shot(page, "whatif-02-problem")

    with stack.sessions() as session:
        actions = session.scalars(select(AuditRow.action).where(AuditRow.account == "kim.suwon")).all()
    assert actions.count("whatif.run") == 2


def test_the_page_is_for_staff_and_posts_need_the_csrf_token(page: Page, stack: Stack) -> None:
    login(page, "jung.audit")
    page.goto("/console/whatif")
    expect(page.get_by_role("heading", name="권한이 없습니다")).to_be_visible()
    login_again = page.context.request.post("/console/whatif", form={"mode": "birth"})
    assert login_again.status == 403  # no CSRF token: refused before anything is evaluated
