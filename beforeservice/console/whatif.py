"""The console's "what if" page: a caseworker evaluates a situation (YAML/JSON, or a birth in a few fields).

The same evaluation as POST /v1/evaluations (beforeservice.api.evaluations.run: scope, audit, the worker's handlers);
the page only reads the form and shows the decisions, their reasons and the trace, escaped like every page.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from beforeservice.api.evaluations import NotYours, run
from beforeservice.console import web_session
from beforeservice.console.web import STAFF_ROLES, ConsoleUser, _forbidden, _page
from entitlements.situations import (
    MAX_SITUATION_CHARS,
    VERSION,
    FieldProblem,
    SituationRefused,
    UnreadableSituation,
    read_situation,
    situation_from,
)

router = APIRouter(prefix="/console", include_in_schema=False)
ELIGIBILITY_LABELS = {"eligible": "받을 수 있음", "not_eligible": "해당 없음", "undetermined": "판단 불가(정보 부족)"}
DEADLINE_LABELS = {
    "application_closes": "신청 마감",
    "retroactive_window": "소급 신청 기한",
    "use_by": "사용 기한",
    "entitlement_ends": "지원 종료",
}


def _form(today: date, **given: str) -> dict[str, str]:
    defaults = {
        "mode": "birth",
        "situation": "",
        "birth_date": today.isoformat(),
        "birth_order": "1",
        "municipality_code": "",
        "resident_since": "",
        "registered_on": today.isoformat(),
        "on": today.isoformat(),
    }
    return {**defaults, **{k: v for k, v in given.items() if v is not None}}


def _show(request: Request, who: Any, form: dict[str, str], **context: Any) -> Response:
    page = {
        "active": "whatif",
        "form": form,
        "max_chars": MAX_SITUATION_CHARS,
        "eligibility_labels": ELIGIBILITY_LABELS,
        "deadline_labels": DEADLINE_LABELS,
        "evaluation": None,
        "problems": [],
        **context,
    }
    status = 422 if page["problems"] else 404 if context.get("not_found") else 200
    return _page(request, "whatif.j2", page, status, who)


@router.get("/whatif")
def whatif_page(request: Request, who: ConsoleUser) -> Response:
    if who.role not in STAFF_ROLES:
        return _forbidden(request, who)
    return _show(request, who, _form(date.today()))


def _birth(form: dict[str, str]) -> dict[str, Any]:
    """The situation the simple fields describe: two parents, a household at a municipality, one birth."""
    household: dict[str, Any] = {
        "id": "household",
        "municipality_code": form["municipality_code"],
        "members": [{"id": "parent-1", "role": "parent"}, {"id": "parent-2", "role": "parent"}],
    }
    if form["resident_since"]:
        household["resident_since"] = form["resident_since"]
    birth_order: Any = int(form["birth_order"]) if form["birth_order"].isdigit() else form["birth_order"]
    return {
        "version": VERSION,
        "date": form["on"],
        "households": [household],
        "events": [
            {
                "type": "kr.go.mois.birth.registered",
                "data": {
                    "child": {"id": "child", "birth_date": form["birth_date"]},
                    "parents": [{"id": "parent-1", "role": "mother"}, {"id": "parent-2", "role": "father"}],
                    "birth_order": birth_order,
                    "municipality_code": form["municipality_code"],
                    "registered_on": form["registered_on"],
                },
            }
        ],
    }


@router.post("/whatif", dependencies=[Depends(web_session.check_csrf)])
def whatif_evaluate(
    request: Request,
    who: ConsoleUser,
    mode: Annotated[str, Form(max_length=10)] = "birth",
    situation: Annotated[str, Form(max_length=MAX_SITUATION_CHARS)] = "",
    birth_date: Annotated[str, Form(max_length=10)] = "",
    birth_order: Annotated[str, Form(max_length=2)] = "",
    municipality_code: Annotated[str, Form(max_length=5)] = "",
    resident_since: Annotated[str, Form(max_length=10)] = "",
    registered_on: Annotated[str, Form(max_length=10)] = "",
    on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    if who.role not in STAFF_ROLES:
        return _forbidden(request, who)
    form = _form(
        date.today(),
        mode="text" if mode == "text" else "birth",
        situation=situation,
        birth_date=birth_date,
        birth_order=birth_order,
        municipality_code=municipality_code,
        resident_since=resident_since,
        registered_on=registered_on,
        on=on,
    )
    try:
        wanted = read_situation(situation) if form["mode"] == "text" else situation_from(_birth(form))
        evaluation = run(request, who, wanted, action="whatif.run")
    except UnreadableSituation as unreadable:
        return _show(request, who, form, problems=unreadable.problems)
    except SituationRefused as refused:
        return _show(request, who, form, problems=[FieldProblem(refused.field, str(refused))])
    except NotYours:
        return _show(request, who, form, not_found=True)
    return _show(request, who, form, evaluation=evaluation)
