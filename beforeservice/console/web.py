"""The caseworker console: server-rendered pages (Jinja2 + HTMX), session cookie, CSRF, every access audited."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from beforeservice.api.deps import catalog_of, client_ip, sessions_of, settings_of
from beforeservice.auth import STAFF_ROLES, Principal
from beforeservice.console import review, takeup, web_session
from beforeservice.console.accounts import colleagues, revoke_sessions, session_principal
from beforeservice.console.audit import AuditEntry, append, verify
from beforeservice.console.login import log_in
from beforeservice.console.masking import mask_id
from beforeservice.console.review_api import ENTITLEMENT_ID, NAME, Decision, _denied, decide, transaction
from beforeservice.console.tables import AuditRow
from beforeservice.console.web_session import CSRF_FIELD, CsrfRejected, LoginRequired
from beforeservice.krds import with_krds
from entitlements.persistence.tables import CitizenRow, HouseholdRow
from notifiers.tables import NotificationRow, OutreachTaskRow
from rules_engine.deadlines import LABEL

HERE = Path(__file__).resolve().parent
# Everything the console shows came from outside (agencies' events, caseworkers' notes, usernames): one
# environment, escaping every template whatever its name. Starlette's default escapes only .html/.htm/.xml, and
# the console's templates end in .j2 - which once left every page unescaped (security review C1).
environment = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(("j2", "html", "htm", "xml"), default_for_string=True, default=True),
)
templates = Jinja2Templates(env=environment)
router = APIRouter(prefix="/console", include_in_schema=False)

SECURITY_HEADERS = {
    # No inline script, handler or style anywhere in the console: markup that slipped through runs nothing.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
NO_STORE = {"Cache-Control": "no-store"}  # pages carry (masked) personal data: never kept by a browser or proxy
STATUS_LABELS = {
    "pending_review": "검토 대기",
    "info_requested": "정보 요청됨",
    "matched": "승인됨",
    "rejected": "반려됨",
    "all": "전체",
    "coverage_gap": "지원금 미등록 지역 안내",  # information offers where a municipal table has no row
}
ACTION_LABELS = {"approve": "승인", "reject": "반려", "request_info": "정보 요청", "assign": "배정"}
DEADLINE_LABELS = {kind.value: words["ko"] for kind, words in LABEL.items()}  # each dated deadline by its kind


class ConsoleHeaders:
    """The security headers on every console response: pages, redirects, error pages, static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != "/console" and not path.startswith("/console/"):
            await self.app(scope, receive, send)
            return
        added = SECURITY_HEADERS if path.startswith("/console/static/") else {**SECURITY_HEADERS, **NO_STORE}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in added.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    app.mount("/console/static", with_krds(HERE / "static"), name="console-static")
    app.include_router(router)
    app.add_middleware(ConsoleHeaders)

    @app.exception_handler(LoginRequired)
    async def _login(_: Request, __: LoginRequired) -> Response:
        return RedirectResponse("/console/login", status_code=303)

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, __: CsrfRejected) -> Response:
        return _page(
            request,
            "error.j2",
            {
                "title": "요청이 거부되었습니다",
                "message": "보안 토큰이 맞지 않습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
            },
            403,
        )


def console_user(request: Request) -> Principal:
    """The account as it is now; a session from before a logout, deactivation or password reset is over."""
    data = web_session.read(request)
    username = data.get("u")
    if not isinstance(username, str) or not username:
        raise LoginRequired()
    with sessions_of(request)() as session:
        who = session_principal(session, username, data.get("g"))
    if who is None:
        raise LoginRequired()
    return who


ConsoleUser = Annotated[Principal, Depends(console_user)]


def _page(
    request: Request, name: str, context: dict[str, Any], status: int = 200, who: Principal | None = None
) -> Response:
    data = web_session.read(request)
    base = {
        "who": who,
        "csrf": data.get("csrf", ""),
        "csrf_field": CSRF_FIELD,
        "status_labels": STATUS_LABELS,
        "action_labels": ACTION_LABELS,
        "deadline_labels": DEADLINE_LABELS,
    }
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


def _forbidden(request: Request, who: Principal) -> Response:
    return _page(
        request, "error.j2", {"title": "권한이 없습니다", "message": "이 화면은 담당 역할만 볼 수 있습니다."}, 403, who
    )


def _not_found(request: Request, who: Principal) -> Response:
    return _page(
        request,
        "error.j2",
        {"title": "찾을 수 없습니다", "message": "요청한 건이 없거나 담당 범위 밖입니다."},
        404,
        who,
    )


@router.get("")
def home(who: ConsoleUser) -> Response:
    return RedirectResponse("/console/audit" if who.role == "auditor" else "/console/queue", status_code=303)


@router.get("/login")
def login_page(request: Request) -> Response:
    data = web_session.read(request)
    if data.get("u"):
        return RedirectResponse("/console/queue", status_code=303)
    csrf = data.get("csrf") or web_session.new_csrf()
    response = _page(request, "login.j2", {"csrf": csrf, "error": None})
    web_session.write(response, settings_of(request), {"csrf": csrf})
    return response


@router.post("/login", dependencies=[Depends(web_session.check_csrf)])
def login(
    request: Request, username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=256)]
) -> Response:
    settings = settings_of(request)
    outcome = log_in(sessions_of(request), settings, username, password, client_ip(request), "console")
    if outcome.retry_after is not None:
        minutes = -(-outcome.retry_after // 60)
        error = f"로그인 시도가 너무 많습니다. {minutes}분 뒤에 다시 시도하세요."
        response = _page(request, "login.j2", {"error": error, "username": username}, 429)
        response.headers["Retry-After"] = str(outcome.retry_after)
        return response
    account = outcome.account
    if account is None:
        return _page(request, "login.j2", {"error": "아이디 또는 비밀번호가 맞지 않습니다.", "username": username}, 401)
    response = RedirectResponse("/console", status_code=303)
    # A fresh CSRF token at login: a token planted before authentication is worthless afterwards.
    session_data = {"u": account.username, "g": account.session_generation, "csrf": web_session.new_csrf()}
    web_session.write(response, settings, session_data)
    return response


@router.post("/logout", dependencies=[Depends(web_session.check_csrf)])
def logout(request: Request) -> Response:
    """Ends this session and every other token and session of the account (a copied cookie dies with it)."""
    data = web_session.read(request)
    username = data.get("u")
    if isinstance(username, str) and username:
        with transaction(request) as session:
            who = session_principal(session, username, data.get("g"))
            if who is not None:
                revoke_sessions(session, username)
                append(session, AuditEntry(who.subject, who.role, client_ip(request), "console.logout", "auth"))
    response = RedirectResponse("/console/login", status_code=303)
    web_session.clear(response)
    return response


def _filters(request: Request, who: Principal) -> dict[str, Any]:
    catalog = catalog_of(request)
    agencies = who.scopes.get("agencies", [])
    benefits = [b for b in catalog.benefits.values() if "*" in agencies or b.agency.id in agencies]
    return {
        "agencies": sorted({b.agency.id: b.agency.name["ko"] for b in benefits}.items()),
        "benefits": sorted((b.id, b.name["ko"]) for b in benefits),
        "statuses": list(STATUS_LABELS.items()),
    }


@router.get("/queue")
def queue_page(
    request: Request,
    who: ConsoleUser,
    agency: str | None = None,
    municipality: str | None = None,
    benefit: str | None = None,
    status: str = "pending_review",
    deadline_before: str | None = None,
    mine: str | None = None,
    done: int | None = None,
    refused: int | None = None,
) -> Response:
    if who.role not in STAFF_ROLES:
        return _forbidden(request, who)
    wanted = review.QueueFilter(
        _matching(agency, NAME),
        _matching((municipality or "").strip(), r"^\d{1,5}$"),
        _matching(benefit, NAME),
        status if status in STATUS_LABELS else "pending_review",
        _date(deadline_before),
        who.subject if mine else None,
    )
    with transaction(request) as session:
        items = review.queue(session, who, catalog_of(request), wanted, date.today())
        append(
            session,
            AuditEntry(
                who.subject, who.role, client_ip(request), "queue.read", "read", detail={"cases": [i.id for i in items]}
            ),
        )
        staff = [c.username for c in colleagues(session, who)]
    context = {
        "items": items,
        "wanted": wanted,
        "colleagues": staff,
        "done": done,
        "refused": refused,
        **_filters(request, who),
    }
    partial = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "queue-results"
    return _page(request, "queue_results.j2" if partial else "queue.j2", context, who=who)


def _matching(value: str | None, pattern: str) -> str | None:
    """A filter value as typed, or None if it cannot name anything (e.g. stray characters in the URL)."""
    return value if value and re.match(pattern, value) else None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.post("/bulk", dependencies=[Depends(web_session.check_csrf)])
async def bulk(request: Request, who: ConsoleUser) -> Response:
    if who.role not in STAFF_ROLES:
        return _forbidden(request, who)
    form = await request.form()
    ids = [str(i) for i in form.getlist("ids")][:200]
    action = str(form.get("action") or "")
    if action not in ACTION_LABELS or not ids:
        return RedirectResponse("/console/queue?done=0&refused=0", status_code=303)
    decision = Decision.model_validate(
        {
            "action": action,
            "reason": str(form.get("reason") or "") or None,
            "assignee": str(form.get("assignee") or "") or None,
        }
    )
    done = refused = 0
    for entitlement_id in dict.fromkeys(ids):
        try:
            decide(request, who, entitlement_id, decision)
            done += 1
        except review.NotFound:
            _denied(request, who, f"case.{action}", entitlement_id)
            refused += 1
        except review.Refused:
            refused += 1
    return RedirectResponse(f"/console/queue?done={done}&refused={refused}", status_code=303)


@router.get("/cases/{entitlement_id}")
def case_page(request: Request, entitlement_id: str, who: ConsoleUser, done: str | None = None) -> Response:
    if who.role not in STAFF_ROLES:
        return _forbidden(request, who)
    return _case(request, who, entitlement_id, done=ACTION_LABELS.get(done or ""))


def _case(
    request: Request, who: Principal, entitlement_id: str, done: str | None = None, error: str | None = None
) -> Response:
    if not re.match(ENTITLEMENT_ID, entitlement_id):
        return _not_found(request, who)
    with transaction(request) as session:
        try:
            case = review.detail(session, who, catalog_of(request), entitlement_id, date.today())
        except review.NotFound:
            case = None
        if case is not None:
            append(
                session,
                AuditEntry(
                    who.subject,
                    who.role,
                    client_ip(request),
                    "case.read",
                    "read",
                    data_subject=case.item.data_subject,
                    object_id=entitlement_id,
                ),
            )
    if case is None:
        _denied(request, who, "case.read", entitlement_id)
        return _not_found(request, who)
    return _page(request, "case.j2", {"case": case, "done": done, "error": error}, 409 if error else 200, who)


@router.post("/cases/{entitlement_id}/decision", dependencies=[Depends(web_session.check_csrf)])
def case_decision(
    request: Request,
    entitlement_id: str,
    who: ConsoleUser,
    action: Annotated[str, Form()],
    reason: Annotated[str | None, Form(max_length=2000)] = None,
    assignee: Annotated[str | None, Form(max_length=64)] = None,
) -> Response:
    if who.role not in STAFF_ROLES:
        return _forbidden(request, who)
    if action not in ACTION_LABELS:
        return _case(request, who, entitlement_id, error="알 수 없는 처리입니다.")
    try:
        decision = Decision.model_validate({"action": action, "reason": reason or None, "assignee": assignee or None})
    except ValidationError:
        return _case(request, who, entitlement_id, error="입력값을 확인하세요 (사유·담당자).")
    try:
        decide(request, who, entitlement_id, decision)
    except review.NotFound:
        _denied(request, who, f"case.{action}", entitlement_id)
        return _not_found(request, who)
    except review.Refused as exc:
        return _case(request, who, entitlement_id, error=str(exc))
    return RedirectResponse(f"/console/cases/{entitlement_id}?done={action}", status_code=303)


@router.get("/outreach")
def outreach_page(request: Request, who: ConsoleUser) -> Response:
    """People no channel reached (outreach tasks raised by the notification side), in the caller's municipalities."""
    if who.role not in STAFF_ROLES:
        return _forbidden(request, who)
    municipalities = who.scopes.get("municipalities", [])
    with transaction(request) as session:
        rows = session.execute(
            select(OutreachTaskRow, HouseholdRow.municipality_code, NotificationRow.offer_ids)
            .join(CitizenRow, CitizenRow.id == OutreachTaskRow.citizen_id)
            .join(HouseholdRow, HouseholdRow.id == CitizenRow.household_id)
            .join(NotificationRow, NotificationRow.id == OutreachTaskRow.notification_id)
            .order_by(OutreachTaskRow.status, OutreachTaskRow.worth_krw.desc(), OutreachTaskRow.created_at)
            .limit(500)
        ).all()
        visible = [
            (task, place)
            for task, place, _ in rows
            if "*" in municipalities or (place and any(place.startswith(p) for p in municipalities))
        ]
        append(
            session,
            AuditEntry(
                who.subject,
                who.role,
                client_ip(request),
                "outreach.read",
                "read",
                detail={"citizens": sorted({t.citizen_id for t, _ in visible})},
            ),
        )
    tasks = [
        {
            "citizen": t.citizen_id if who.sees_personal_data else mask_id(t.citizen_id),
            "municipality": place,
            "reason": t.reason,
            "worth_krw": t.worth_krw,
            "created_at": t.created_at,
            "status": t.status,
            "assigned_to": t.assigned_to,
        }
        for t, place in visible
    ]
    return _page(request, "outreach.j2", {"tasks": tasks}, who=who)


@router.get("/dashboard")
def dashboard_page(request: Request, who: ConsoleUser, by: str = "benefit") -> Response:
    if who.role not in STAFF_ROLES:
        return _forbidden(request, who)
    by = by if by in ("benefit", "municipality", "channel") else "benefit"
    with transaction(request) as session:
        rows = takeup.funnel(session, who, catalog_of(request))
        append(session, AuditEntry(who.subject, who.role, client_ip(request), "takeup.read", "read", detail={"by": by}))
    overall = takeup.totals(rows)
    total = overall[0] if overall else takeup.FunnelRow("전체", "전체", "*", "*")
    context = {
        "total": total,
        "groups": sorted(takeup.totals(rows, by), key=lambda r: -r.counts["matched"]),
        "rows": rows,
        "by": by,
        "stages": takeup.STAGES,
        "stage_labels": takeup.STAGE_LABELS,
    }
    return _page(request, "dashboard.j2", context, who=who)


@router.get("/dashboard.csv")
def dashboard_csv(request: Request, who: ConsoleUser) -> Response:
    if who.role not in STAFF_ROLES:
        return _forbidden(request, who)
    with transaction(request) as session:
        rows = takeup.funnel(session, who, catalog_of(request))
        append(
            session,
            AuditEntry(
                who.subject, who.role, client_ip(request), "takeup.export", "export", detail={"rows": len(rows)}
            ),
        )
    return Response(
        takeup.to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="take-up.csv"', "Cache-Control": "no-store"},
    )


@router.get("/audit")
def audit_page(request: Request, who: ConsoleUser) -> Response:
    if who.role != "auditor":
        return _forbidden(request, who)
    with transaction(request) as session:
        entries = list(session.scalars(select(AuditRow).order_by(AuditRow.id.desc()).limit(200)))
        checked, breaks = verify(session)
        append(session, AuditEntry(who.subject, who.role, client_ip(request), "audit.read", "read"))
    return _page(request, "audit.j2", {"entries": entries, "checked": checked, "breaks": breaks}, who=who)
