"""Stored markup in the caseworker console (security review C1), in real headless Chromium on the real stack.

Every string an agency or a caseworker controls and the console shows is planted with HTML that would act if
parsed: the review's own attack (an htmx button posting /console/bulk on load, reusing the page's CSRF token),
inline handlers and scripts. Agency markup goes in through the API where it is still accepted, and straight
into the rows the console reads (as if planted before the event contracts tightened, or through a field they
do not cover): the console must be safe on its own. Each value must show as its literal text, create no
element, send no request, set no flag, open no dialog and change no case.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer
from playwright.sync_api import Browser, BrowserContext, Dialog, Error, Page, Request, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select, update

from beforeservice.console.accounts import add_caseworker
from beforeservice.console.audit import AuditEntry, append
from beforeservice.console.masking import mask_id
from beforeservice.console.tables import CaseworkerRow, ReviewActionRow, ReviewCaseRow
from beforeservice.console.web_session import CSRF_FIELD
from entitlements.batch import Record
from entitlements.persistence.tables import CitizenRow, EntitlementRow, HouseholdRow, ProcessedEventRow
from events.topics import LIFE_EVENTS
from notifiers.tables import NotificationRow, OutreachTaskRow
from tests.beforeservice.api.stack import PASSWORD, SUWON, Stack
from tests.beforeservice.console.test_console_browser import login, wcag_violations
from tests.support.births import as_json, birth_event, seed_household

pytestmark = pytest.mark.integration
STRUCTURED = "application/cloudevents+json"
PLANTED_TYPE = "kr.go.mois.birth.registered"

# Elements and attributes none of the console's templates write: finding one means planted markup was parsed.
FOREIGN = """() => [...document.querySelectorAll('body *')].filter(e =>
    e.matches('[id^="pwn"], img, script, iframe, object, embed, xmp, b, i, svg:not(#funnel-chart), button:not(.btn)')
    || [...e.attributes].some(a => a.name.startsWith('on')
        || (a.name.startsWith('hx-') && a.name !== 'hx-disable' && !e.matches('form.filters'))))
  .map(e => e.outerHTML.slice(0, 160))"""
FLAGS = "() => [typeof window.pwned, typeof window.x]"


def hostile(label: str, room: int) -> str:
    """Markup that acts if parsed, as much of it as the column holds; `label` says which field it sits in."""
    candidates = (
        f'<button id="pwn-{label}" hx-post="/console/bulk" hx-trigger="load">{label}</button>'
        f"<img src=x onerror=\"window.pwned='{label}'\"><script>window.pwned='{label}'</script>",
        f"<i id=pwn-{label} hx-post=/console/bulk hx-trigger=load>{label}</i>",
        "<img src=x onerror=window.pwned=1>",
        "<svg onload=window.x=1>",
        "<svg onload=x=1>",
        "<b>xx</b>",
        "<b>x</b>",
        "<xmp>",
    )
    return next(c for c in candidates if len(c) <= room)


def bulk_reject_on_load(victim: str) -> str:
    """The review's exploit, in a CloudEvent id: rejects `victim` in the name of whoever opens the page."""
    return (
        f'<button id="pwn-event" hx-post="/console/bulk" hx-trigger="load" '
        f'hx-vals=\'{{"ids": "{victim}", "action": "reject", "reason": "pwned"}}\'>event id</button>'
    )


@dataclass
class Planted:
    victim: str  # a pending Suwon case nothing may touch
    attack: str  # the CloudEvent id carrying the exploit
    api_accepted: bool  # whether POST /v1/events took the exploit (it did before the contracts tightened)
    suwon_case: str  # the case whose timeline carries the exploit (supervisor park.suwon opens it)
    rejected_case: str
    approved_case: str
    central_case: str  # a household planted whole, seen by han.central (every agency and place)
    user: str  # a console account whose username is markup
    texts: dict[str, list[str]] = field(default_factory=dict)  # page -> planted strings it must show as text
    statuses: dict[str, str] = field(default_factory=dict)  # case -> status that must not change


def _accept_through_api(stack: Stack, event_json: dict[str, Any]) -> bool:
    """POST the event as the MOIS registry would; if accepted, run it from the topic through the worker's
    processor (what the worker does with it). False if the API refuses it (the contracts may forbid it)."""
    r = stack.client.post(
        "/v1/events",
        content=json.dumps(event_json),
        headers={"content-type": STRUCTURED, "x-api-key": stack.mois_key},
    )
    if r.status_code != 202:
        assert 400 <= r.status_code < 500, r.text
        return False
    consumer = KafkaConsumer(
        LIFE_EVENTS,
        bootstrap_servers=stack.broker.bootstrap_servers,
        auto_offset_reset="earliest",
        consumer_timeout_ms=5000,
        group_id=None,
    )
    try:
        message = next(m for m in consumer if json.loads(m.value)["id"] == event_json["id"])
    finally:
        consumer.close()
    record = Record(
        message.topic, message.partition, message.offset, message.key, message.value, list(message.headers or [])
    )
    assert stack.processor is not None
    stack.processor.process([record])
    return True


def _case_of_event(stack: Stack, event_id: str) -> str | None:
    with stack.sessions() as session:
        return session.scalar(
            select(EntitlementRow.id).where(
                EntitlementRow.event_id == event_id, EntitlementRow.status == "pending_review"
            )
        )


def _plant(stack: Stack) -> Planted:
    now = datetime.now(UTC)
    victim, _, _ = stack.pending_case(SUWON)
    attack = bulk_reject_on_load(victim)
    assert len(attack) <= 256

    # 1. The review's exploit through the API: a real birth whose CloudEvent id is the htmx button.
    tag = uuid.uuid4().hex[:8]
    parents = [f"m-{tag}", f"f-{tag}"]
    seed_household(stack.sessions, f"hh-{tag}", parents, SUWON, None)
    event = birth_event(mother=parents[0], father=parents[1], child=f"c-{tag}", municipality=SUWON)
    api_accepted = _accept_through_api(stack, {**as_json(event), "id": attack})  # the contracts refuse it now
    suwon_case = _case_of_event(stack, attack) if api_accepted else None
    if suwon_case is None:  # refused at the door: a case of its own, the exploit planted below all the same
        suwon_case, _, _ = stack.pending_case(SUWON)
    rejected_case, _, _ = stack.pending_case(SUWON)
    approved_case, _, _ = stack.pending_case(SUWON)

    # 2. Caseworker free text, through the console's own JSON API.
    info = hostile("info-request", 2000)
    rejection = hostile("rejection", 2000)
    note = hostile("approval-note", 2000)
    for case, body in (
        (suwon_case, {"action": "request_info", "reason": info}),
        (rejected_case, {"action": "reject", "reason": rejection}),
        (approved_case, {"action": "approve", "reason": note}),
    ):
        r = stack.client.post(f"/v1/review/cases/{case}/decision", json=body, headers=stack.bearer("kim.suwon"))
        assert r.status_code == 200, r.text

    # 3. Straight into the rows: a username, a household planted whole, event attributes, the rules' texts.
    user = hostile("username", 64)
    role, language, severity = hostile("role", 16), hostile("language", 8), hostile("severity", 8)
    source, event_id, event_type = hostile("source", 512), hostile("event-id", 256), hostile("type", 256)
    reason, when, reference = hostile("reason", 4000), hostile("when", 4000), hostile("reference", 4000)
    missing = hostile("missing", 4000)
    household, person = hostile("household", 80), hostile("person", 80)
    municipality = hostile("municipality", 5)
    outreach_reason, outreach_assignee = hostile("outreach-reason", 200), hostile("outreach-assignee", 80)
    audit: dict[str, Any] = {
        "account": hostile("audit-account", 64),
        "ip": hostile("audit-ip", 64),
        "action": hostile("audit-action", 48),
        "data_subject": hostile("audit-subject", 80),
        "object_id": hostile("audit-object", 80),
    }
    with stack.sessions.begin() as session:
        add_caseworker(session, "pwn.user", PASSWORD, role="caseworker", agencies=["suwon"], municipalities=["4111"])
        add_caseworker(session, "han.central", PASSWORD, role="supervisor", agencies=["*"], municipalities=["*"])
    with stack.sessions.begin() as session:
        session.execute(update(CaseworkerRow).where(CaseworkerRow.username == "pwn.user").values(username=user))
        suwon = session.get(EntitlementRow, suwon_case)
        assert suwon is not None
        suwon.trace = [{"reason_ko": reason, "when": when, "holds": None, "reference": reference}]
        suwon.reason_ko, suwon.missing = reason, [missing]
        citizen = session.get(CitizenRow, suwon.beneficiary_id)
        assert citizen is not None
        citizen.role, citizen.preferred_language, citizen.disability_severity = role, language, severity
        session.add(
            ProcessedEventRow(
                source=source, event_id=event_id, type=event_type, household_id=suwon.household_id, processed_at=now
            )
        )
        if not api_accepted:  # else the processor recorded it already
            session.add(
                ProcessedEventRow(
                    source="/agencies/mois/registry/41117",
                    event_id=attack,
                    type=PLANTED_TYPE,
                    household_id=suwon.household_id,
                    processed_at=now,
                )
            )
        review_case = session.get(ReviewCaseRow, suwon_case)
        assert review_case is not None
        review_case.assigned_to = user
        session.add(
            ReviewActionRow(entitlement_id=suwon_case, action="assigned", actor=user, assignee=user, note=None, at=now)
        )

        session.add(HouseholdRow(id=household, municipality_code=municipality, updated_at=now))
        session.flush()
        session.add(
            CitizenRow(id=person, household_id=household, role=role, preferred_language=language, updated_at=now)
        )
        central_case, offered = str(uuid.uuid4()), str(uuid.uuid4())
        for entitlement_id, status in ((central_case, "pending_review"), (offered, "matched")):
            session.add(
                EntitlementRow(
                    id=entitlement_id,
                    benefit_id=suwon.benefit_id,
                    beneficiary_id=person,
                    household_id=household,
                    status=status,
                    eligibility=suwon.eligibility,
                    amount_krw=suwon.amount_krw,
                    payment=suwon.payment,
                    deadline=suwon.deadline,
                    missing=[missing],
                    trace=[{"reason_ko": reason, "when": when, "holds": None, "reference": reference}],
                    reason_ko=reason,
                    reason_en=reason,
                    evaluated_on=date.today(),
                    event_source=source,
                    event_id=f"{event_id[:200]}{entitlement_id}",
                    created_at=now,
                    updated_at=now,
                )
            )
        session.add(
            ProcessedEventRow(
                source=source, event_id=f"central-{tag}", type=event_type, household_id=household, processed_at=now
            )
        )
        notification = str(uuid.uuid4())
        session.add(
            NotificationRow(
                id=notification,
                recipient_id=person,
                household_id=household,
                event_source=source,
                event_id=f"central-{tag}",
                event_type=PLANTED_TYPE,
                category="childbirth_childcare",
                offer_ids=[offered],
                language="ko",
                lock_screen_title="t",
                lock_screen_body="b",
                message_ko="m",
                message_en="m",
                dispatch_status="failed",
                dispatch_attempts=3,
                created_at=now,
            )
        )
        session.flush()
        session.add(
            OutreachTaskRow(
                citizen_id=person,
                notification_id=notification,
                reason=outreach_reason,
                worth_krw=2_000_000,
                created_at=now,
                status="open",
                assigned_to=outreach_assignee,
            )
        )
    with stack.sessions.begin() as session:
        append(session, AuditEntry(role="caseworker", kind="read", **audit))

    trace_texts = [reason, when, reference, missing]
    citizen_texts = [role, language]
    texts = {
        "suwon-queue": [missing, user],
        "suwon-case": [
            f"/agencies/mois/registry/41117 · {attack}",
            f"{source} · {event_id}",
            event_type,
            info,
            f"kim.suwon: {info}",
            f"{user}: → {user}",
            severity,
            *trace_texts,
            *citizen_texts,
            user,
        ],
        "suwon-rejected": [rejection, f"kim.suwon: {rejection}"],
        "suwon-approved": [f"kim.suwon: {note}"],
        "masked-case": [mask_id(attack), mask_id(event_id), info, *trace_texts, user],
        "central-queue": [municipality, person, missing, user],
        "central-case": [household, person, municipality, f"{source} · central-{tag}", *trace_texts, *citizen_texts],
        "central-outreach": [person, municipality, outreach_reason, outreach_assignee],
        "central-dashboard": [municipality],
        "audit": [
            f"{audit['account']} (caseworker)",
            audit["ip"],
            f"{audit['action']} · read",
            audit["data_subject"],
            audit["object_id"],
        ],
    }
    statuses = {
        victim: "pending_review",
        suwon_case: "pending_review",
        central_case: "pending_review",
        rejected_case: "rejected",
        approved_case: "matched",
    }
    return Planted(
        victim, attack, api_accepted, suwon_case, rejected_case, approved_case, central_case, user, texts, statuses
    )


@pytest.fixture(scope="module")
def planted(stack: Stack) -> Planted:
    return _plant(stack)


@dataclass
class Watch:
    """What the browser did besides loading pages: requests other than GET (logins aside), dialogs."""

    posts: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture(params=["csp-enforced", "csp-bypassed"])
def watched(request: pytest.FixtureRequest, browser: Browser, stack: Stack) -> Iterator[tuple[BrowserContext, Watch]]:
    """A browser as a supervisor has one; once more with the CSP ignored, so escaping is proven on its own."""
    ctx = browser.new_context(base_url=stack.base_url, locale="ko-KR", bypass_csp=request.param == "csp-bypassed")
    watch = Watch()

    def seen(req: Request) -> None:
        if req.method != "GET" and not req.url.endswith("/console/login"):
            watch.posts.append(f"{req.method} {req.url} {req.post_data}")

    def dialog(d: Dialog) -> None:
        watch.dialogs.append(d.message)
        d.dismiss()

    ctx.on("request", seen)
    ctx.on("page", lambda page: page.on("dialog", dialog))
    yield ctx, watch
    ctx.close()


def _as(ctx: BrowserContext, username: str) -> Page:
    ctx.clear_cookies()
    page = ctx.new_page()
    login(page, username)
    return page


def _shows_as_text(page: Page, watch: Watch, url: str, texts: list[str]) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    _settle(page, watch, url)
    _inert(page, url, texts)


def _quiet(page: Page) -> None:
    """Wait until the page sends nothing more (an htmx trigger on load fires at once, as htmx starts)."""
    # Requests without end (planted htmx elements firing at each other) are reported by the callers' asserts.
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_load_state("networkidle", timeout=15_000)


def _settle(page: Page, watch: Watch, where: str) -> None:
    _quiet(page)
    assert watch.posts == [] and watch.dialogs == [], f"{where}: {watch.posts} {watch.dialogs}"


def _inert(page: Page, where: str, texts: list[str]) -> None:
    body = page.evaluate("() => document.body.textContent")
    missing = [t for t in texts if t not in body]
    assert missing == [], f"{where}: not shown as text: {missing}"
    assert page.evaluate(FOREIGN) == [], f"{where}: planted markup became elements"
    assert page.evaluate(FLAGS) == ["undefined", "undefined"], f"{where}: a planted script or handler ran"


def test_planted_markup_renders_as_text_and_triggers_nothing(
    watched: tuple[BrowserContext, Watch], stack: Stack, planted: Planted
) -> None:
    ctx, watch = watched
    p = planted
    # The review's scenario: the supervisor opens the case whose event id is the button.
    page = _as(ctx, "park.suwon")
    page.goto(f"/console/cases/{p.suwon_case}")
    _quiet(page)
    with stack.sessions() as session:
        victim = session.get(EntitlementRow, p.victim)
        assert victim is not None and victim.status == "pending_review", "an unrelated case was decided"
    _shows_as_text(page, watch, f"/console/cases/{p.suwon_case}", p.texts["suwon-case"])
    expect(page.get_by_text(p.attack, exact=False).first).to_be_visible()  # the literal <button …>, as text
    _shows_as_text(page, watch, "/console/queue", p.texts["suwon-queue"])
    page.get_by_label("상태").select_option("all")  # the HTMX partial swap shows the planted rows too
    expect(page).to_have_url(re.compile("status=all"))
    expect(page.locator(f'a[href="/console/cases/{p.rejected_case}"]')).to_be_visible()
    _settle(page, watch, "queue after the htmx swap")
    _inert(page, "queue after the htmx swap", p.texts["suwon-queue"])
    _shows_as_text(page, watch, f"/console/cases/{p.rejected_case}", p.texts["suwon-rejected"])
    _shows_as_text(page, watch, f"/console/cases/{p.approved_case}", p.texts["suwon-approved"])

    page = _as(ctx, "kim.suwon")  # the caseworker's masked view
    _shows_as_text(page, watch, f"/console/cases/{p.suwon_case}", p.texts["masked-case"])

    page = _as(ctx, "han.central")
    _shows_as_text(page, watch, "/console/queue", p.texts["central-queue"])
    _shows_as_text(page, watch, f"/console/cases/{p.central_case}", p.texts["central-case"])
    _shows_as_text(page, watch, "/console/outreach", p.texts["central-outreach"])
    _shows_as_text(page, watch, "/console/dashboard?by=municipality", p.texts["central-dashboard"])

    page = _as(ctx, "jung.audit")
    _shows_as_text(page, watch, "/console/audit", p.texts["audit"])
    expect(page.get_by_role("status")).to_contain_text("무결성 검증 통과")

    with stack.sessions() as session:
        now = {case: session.get(EntitlementRow, case).status for case in p.statuses}  # type: ignore[union-attr]
        assert now == p.statuses
        assert session.get(ReviewCaseRow, p.victim) is None
        assert session.scalars(select(ReviewActionRow).where(ReviewActionRow.entitlement_id == p.victim)).all() == []


def test_the_csrf_token_is_only_in_the_trusted_forms(browser: Browser, stack: Stack, planted: Planted) -> None:
    """No attribute an injected element could inherit holds the token; an htmx element slipped into a region
    of stored data (as if an escaping bug let one through) is not processed, so it cannot send the form's."""
    ctx = browser.new_context(base_url=stack.base_url, locale="ko-KR")
    posts: list[str] = []
    ctx.on("request", lambda r: posts.append(r.url) if r.method == "POST" and "/login" not in r.url else None)
    try:
        page = _as(ctx, "park.suwon")
        page.goto("/console/queue")
        token = page.locator(f'#bulk-form input[name="{CSRF_FIELD}"]').input_value()
        html = page.content()
        holders = page.evaluate(
            "t => [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.value.includes(t)))"
            ".map(e => e.tagName + ' ' + (e.getAttribute('name') || '') + ' ' + (e.form ? 'in-form' : ''))",
            token,
        )
        assert holders and all(h == f"INPUT {CSRF_FIELD} in-form" for h in holders), holders
        assert "hx-headers" not in html
        page.evaluate(
            """victim => { const cell = document.querySelector('#queue-table tbody td');
              cell.insertAdjacentHTML('beforeend', `<button id="pwn-slipped" hx-post="/console/bulk"
                hx-trigger="load" hx-include="#bulk-form" hx-vals='{"ids": "${victim}", "action": "reject",
                "reason": "pwned"}'>x</button>`); htmx.process(document.body); }""",
            planted.victim,
        )
        page.wait_for_load_state("networkidle")
        assert posts == []
        with stack.sessions() as session:
            assert session.get(EntitlementRow, planted.victim).status == "pending_review"  # type: ignore[union-attr]
    finally:
        ctx.close()


def test_htmx_is_hardened_and_the_csp_forbids_inline_code(browser: Browser, stack: Stack) -> None:
    ctx = browser.new_context(base_url=stack.base_url, locale="ko-KR")  # the CSP applies
    try:
        page = ctx.new_page()
        page.goto("/console/login")
        config = page.evaluate(
            "() => [htmx.version, htmx.config.allowEval, htmx.config.allowScriptTags, "
            "htmx.config.includeIndicatorStyles, htmx.config.selfRequestsOnly, htmx.config.historyCacheSize]"
        )
        assert config[1:] == [False, False, False, True, 0], config
        with pytest.raises(Error, match="Content Security Policy"):
            page.add_script_tag(content="window.pwned = 'inline script'")
        assert page.evaluate(FLAGS) == ["undefined", "undefined"]
        handler_ran = page.evaluate(
            """() => new Promise(done => {
                 const probe = '<img id="probe" src="/nothing" onerror="window.pwned=1">';
                 document.body.insertAdjacentHTML('beforeend', probe);
                 document.getElementById('probe').addEventListener('error', () => done(typeof window.pwned));
               })"""
        )
        assert handler_ran == "undefined"
        assert page.evaluate("() => document.querySelectorAll('style, [style]').length") == 0
    finally:
        ctx.close()


SECURITY_HEADERS = ("content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy")


def test_every_console_response_carries_the_security_headers(stack: Stack) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        login_page = client.get("/console/login")
        token = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', login_page.text).group(1)  # type: ignore[union-attr]
        responses = {
            "login page": login_page,
            "redirect to login": httpx.get(f"{stack.base_url}/console/queue", follow_redirects=False),
            "static": client.get("/console/static/htmx.min.js"),
            "wrong password": client.post(
                "/console/login", data={"username": "kim.suwon", "password": "wrong password!", CSRF_FIELD: token}
            ),
            "invalid form": client.post("/console/login", data={CSRF_FIELD: token}),
            "csrf refused": client.post("/console/logout"),
        }
        client.post("/console/login", data={"username": "kim.suwon", "password": PASSWORD, CSRF_FIELD: token})
        responses["queue"] = client.get("/console/queue")
        responses["not found"] = client.get("/console/cases/no-such-case")
        responses["forbidden"] = client.get("/console/audit")
        responses["csv"] = client.get("/console/dashboard.csv")
    for name, response in responses.items():
        missing = [h for h in SECURITY_HEADERS if h not in response.headers]
        assert missing == [], f"{name} ({response.status_code}) lacks {missing}"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
    csp = {d.split()[0]: d.split()[1:] for d in responses["queue"].headers["content-security-policy"].split("; ")}
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["form-action"] == ["'self'"]
    assert responses["queue"].headers["cache-control"] == "no-store"


def test_pages_with_planted_markup_stay_accessible(page: Page, planted: Planted) -> None:
    login(page, "park.suwon")
    for url in ("/console/queue?status=all", f"/console/cases/{planted.suwon_case}"):
        page.goto(url)
        assert wcag_violations(page) == [], url
    page.context.clear_cookies()
    login(page, "han.central")
    for url in (f"/console/cases/{planted.central_case}", "/console/outreach", "/console/dashboard?by=municipality"):
        page.goto(url)
        assert wcag_violations(page) == [], url
