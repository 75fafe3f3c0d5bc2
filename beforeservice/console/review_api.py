"""JSON API for caseworkers and supervisors (bearer tokens from POST /v1/caseworkers/token) and for auditors.

Every read and write of a case is audited in the same transaction as the access itself.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from beforeservice.api.deps import (
    AuditorDep,
    CatalogDep,
    SessionsDep,
    SettingsDep,
    StaffDep,
    catalog_of,
    client_ip,
    sessions_of,
)
from beforeservice.api.problems import problem
from beforeservice.auth import Principal, issue_token
from beforeservice.console import review
from beforeservice.console.accounts import principal_of
from beforeservice.console.audit import AuditEntry, AuditTransaction, append, verify
from beforeservice.console.login import log_in
from beforeservice.console.review import CaseSummary
from beforeservice.console.tables import AuditRow

router = APIRouter(tags=["caseworkers"])


ENTITLEMENT_ID = r"^[A-Za-z0-9\-]{1,64}$"
NAME = r"^[A-Za-z0-9_.\-]{1,80}$"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CaseId = Annotated[str, PathParam(pattern=ENTITLEMENT_ID)]


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=NAME)
    password: str = Field(min_length=1, max_length=256)


class StaffToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str


class Decision(BaseModel):
    action: Literal["approve", "reject", "request_info", "assign"]
    reason: str | None = Field(default=None, max_length=2000)
    assignee: str | None = Field(default=None, pattern=NAME)

    @field_validator("reason")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value


class BulkDecision(Decision):
    ids: list[Annotated[str, Field(pattern=ENTITLEMENT_ID)]] = Field(min_length=1, max_length=200)


# One case in JSON: its summary's fields, then its file with the timeline as strings. CaseFile is listed first
# so that pydantic, which orders fields base-most first, keeps the summary's fields first.
class CaseView(review.CaseFile[dict[str, str]], CaseSummary):
    pass


class DecisionResult(BaseModel):
    id: str
    status: str
    notified: list[str] = []


class BulkResult(BaseModel):
    done: list[str]
    refused: dict[str, str]


class AuditEntryView(BaseModel):
    id: int
    at: str
    account: str
    role: str
    ip: str | None
    action: str
    kind: str
    data_subject: str | None
    object_id: str | None


class AuditPage(BaseModel):
    entries: list[AuditEntryView]
    chain_ok: bool
    checked: int


def entry(request: Request, who: Principal, action: str, kind: str, **fields: Any) -> AuditEntry:
    return AuditEntry(who.subject, who.role, client_ip(request), action, kind, **fields)


def transaction(request: Request) -> AuditTransaction:
    return AuditTransaction(sessions_of(request)())


def _denied(request: Request, who: Principal, action: str, object_id: str) -> None:
    """Attempts on cases outside one's scope are recorded too: probing for ids shows up in the log."""
    with transaction(request) as session:
        append(
            session, entry(request, who, action + ".denied", "read", object_id=re.sub(r"[^\w.\-]", "?", object_id)[:80])
        )


@router.post(
    "/v1/caseworkers/token",
    response_model=StaffToken,
    responses={
        401: {"description": "Wrong credentials"},
        429: {"description": "Too many failed attempts on the account or from the address (Retry-After)"},
    },
)
def staff_token(
    body: Credentials, request: Request, settings: SettingsDep, sessions: SessionsDep
) -> StaffToken | JSONResponse:
    """A bearer token for a console account (caseworker, supervisor, auditor). Its role and scopes are read from
    the account on every request; logging out of the console, deactivation or a password reset revoke it.
    Too many failed attempts on the account or from the address: 429 with Retry-After, whatever the password."""
    outcome = log_in(sessions, settings, body.username, body.password, client_ip(request), "api")
    if outcome.retry_after is not None:
        refused = problem(
            429, "Too many login attempts", f"try again in {outcome.retry_after} s", "too-many-login-attempts"
        )
        refused.headers["Retry-After"] = str(outcome.retry_after)
        return refused
    if outcome.account is None:
        raise HTTPException(401, "wrong username or password")
    who = principal_of(outcome.account)
    token = issue_token(settings, who.subject, who.role, who.scopes, generation=outcome.account.session_generation)
    return StaffToken(access_token=token, role=who.role)


def _summary(item: review.QueueItem) -> dict[str, Any]:
    return {k: getattr(item, k) for k in CaseSummary.model_fields}


@router.get("/v1/review/cases", response_model=list[CaseSummary], responses={401: {}, 403: {}})
def list_cases(
    request: Request,
    who: StaffDep,
    catalog: CatalogDep,
    agency: Annotated[str | None, Query(pattern=NAME)] = None,
    municipality: Annotated[str | None, Query(pattern=r"^\d{1,5}$")] = None,
    benefit: Annotated[str | None, Query(pattern=NAME)] = None,
    status: Annotated[
        Literal["pending_review", "info_requested", "matched", "rejected", "all", "coverage_gap"], Query()
    ] = "pending_review",
    deadline_before: date | None = None,
) -> list[CaseSummary]:
    """The review queue in the caller's scope, most urgent first (personal data masked for caseworkers)."""
    wanted = review.QueueFilter(agency, municipality, benefit, status, deadline_before)
    with transaction(request) as session:
        items = review.queue(session, who, catalog, wanted, date.today())
        append(session, entry(request, who, "queue.read", "read", detail={"cases": [i.id for i in items]}))
    return [CaseSummary(**_summary(i)) for i in items]


@router.get("/v1/review/cases/{entitlement_id}", response_model=CaseView, responses={401: {}, 403: {}, 404: {}})
def get_case(entitlement_id: CaseId, request: Request, who: StaffDep, catalog: CatalogDep) -> CaseView:
    """One case: citizen summary (masked for caseworkers), timeline, the rules' trace and the missing facts."""
    try:
        with transaction(request) as session:
            case = review.detail(session, who, catalog, entitlement_id, date.today())
            append(
                session,
                entry(request, who, "case.read", "read", data_subject=case.item.data_subject, object_id=entitlement_id),
            )
    except review.NotFound as exc:
        _denied(request, who, "case.read", entitlement_id)  # after the first transaction let go of the append lock
        raise HTTPException(404, "not found") from exc
    return CaseView(
        **_summary(case.item),
        **{k: getattr(case, k) for k in review.CaseFile.model_fields if k != "timeline"},
        timeline=[{"at": t.at.isoformat(), "what": t.what, "detail": t.detail} for t in case.timeline],
    )


def decide(request: Request, who: Principal, entitlement_id: str, decision: Decision) -> DecisionResult:
    """Apply one decision, audited with it; NotFound (out of scope) and Refused surface to the caller."""
    catalog = catalog_of(request)
    with transaction(request) as session:
        e, _ = review.find(session, who, catalog, entitlement_id)
        notified: list[str] = []
        repeated = False  # an approval again: a no-op, on record as a read (its answer names the recipients)
        if decision.action == "approve":
            approval = review.approve(session, who, catalog, e, decision.reason)
            notified, repeated = approval.notified, approval.repeated
        elif decision.action == "reject":
            review.reject(session, who, e, decision.reason or "")
        elif decision.action == "request_info":
            review.request_information(session, who, e, decision.reason or "")
        else:
            review.assign(session, who, e, decision.assignee or "")
        append(
            session,
            entry(
                request,
                who,
                f"case.{decision.action}" + (".repeated" if repeated else ""),
                "read" if repeated else "write",
                data_subject=e.beneficiary_id,
                object_id=e.id,
                # Not the reason's text: the audit log is append-only (it could never be re-sealed on key
                # rotation); the text is kept, sealed, with the review action (docs/privacy.md).
                detail={
                    "reason_given": bool(decision.reason),
                    "assignee": decision.assignee,
                    "notified": len(notified),
                },
            ),
        )
        return DecisionResult(id=e.id, status=e.status, notified=notified if who.sees_personal_data else [])


@router.post(
    "/v1/review/cases/{entitlement_id}/decision",
    response_model=DecisionResult,
    responses={401: {}, 403: {}, 404: {}, 409: {"description": "Not possible in the case's current state"}},
)
def post_decision(entitlement_id: CaseId, body: Decision, request: Request, who: StaffDep) -> DecisionResult:
    """Approve (→ matched, the citizen is notified), reject with a reason, request information, or assign."""
    try:
        return decide(request, who, entitlement_id, body)
    except review.NotFound as exc:
        _denied(request, who, f"case.{body.action}", entitlement_id)
        raise HTTPException(404, "not found") from exc
    except review.Refused as exc:
        raise HTTPException(409, str(exc)) from exc


@router.post("/v1/review/cases:bulk", response_model=BulkResult, responses={401: {}, 403: {}})
def post_bulk(body: BulkDecision, request: Request, who: StaffDep) -> BulkResult:
    """The same decision on several cases; each is authorised and audited on its own."""
    done, refused = [], {}
    for entitlement_id in dict.fromkeys(body.ids):
        try:
            decide(request, who, entitlement_id, body)
            done.append(entitlement_id)
        except review.NotFound:
            _denied(request, who, f"case.{body.action}", entitlement_id)
            refused[entitlement_id] = "not found"
        except review.Refused as exc:
            refused[entitlement_id] = str(exc)
    return BulkResult(done=done, refused=refused)


@router.get("/v1/audit", response_model=AuditPage, responses={401: {}, 403: {}})
def audit_log(
    request: Request,
    who: AuditorDep,
    data_subject: Annotated[str | None, Query(pattern=NAME)] = None,
    account: Annotated[str | None, Query(pattern=NAME)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AuditPage:
    """The audit log (auditors only), newest first, with the result of checking the whole hash chain."""
    with transaction(request) as session:
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
        if data_subject:
            query = query.where(AuditRow.data_subject == data_subject)
        if account:
            query = query.where(AuditRow.account == account)
        rows = list(session.scalars(query))
        checked, breaks = verify(session)
        append(
            session,
            entry(request, who, "audit.read", "read", detail={"data_subject": data_subject, "account": account}),
        )
    return AuditPage(
        entries=[
            AuditEntryView(
                id=r.id,
                at=r.at.isoformat(),
                account=r.account,
                role=r.role,
                ip=r.ip,
                action=r.action,
                kind=r.kind,
                data_subject=r.data_subject,
                object_id=r.object_id,
            )
            for r in rows
        ],
        chain_ok=not breaks,
        checked=checked,
    )
