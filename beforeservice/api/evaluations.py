"""`POST /v1/evaluations`: what-if evaluations for caseworkers and citizens (entitlements.situations).

Who may ask about whom (docs/rules-format.md, "What if"): a situation is hypothetical and nothing is stored.
Only `stored_people` reads stored data — those people's households and open offers, as the worker loads them.
- A citizen may name only themselves there; any other id is answered 404, whether it exists or not (no oracle).
- A caseworker or supervisor may name people whose household lies in their municipalities; others are 404 too.
  Each staff evaluation is audited (account, time, IP, the stored people read), refusals included.
Other roles are refused (403).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from beforeservice.api.deps import PrincipalDep, catalog_of, client_ip, sessions_of
from beforeservice.api.problems import problem
from beforeservice.auth import STAFF_ROLES, Principal
from beforeservice.console.audit import AuditEntry, append
from beforeservice.console.review_api import transaction
from entitlements.persistence import store
from entitlements.situations import Evaluation, Situation, SituationRefused, evaluate

router = APIRouter(tags=["evaluations"])


class NotYours(LookupError):
    """A stored person the caller may not read (or that does not exist): answered 404."""


def _in_scope(who: Principal, municipality: str | None) -> bool:
    places = who.scopes.get("municipalities", [])
    return "*" in places or (municipality is not None and any(municipality.startswith(p) for p in places))


def run(request: Request, who: Principal, situation: Situation, action: str = "evaluation.run") -> Evaluation:
    """Load the stored people the caller may read, evaluate, audit staff access. Raises NotYours, SituationRefused."""
    stored_ids = list(dict.fromkeys(situation.stored_people))
    if who.role == "citizen" and any(p != who.subject for p in stored_ids):
        raise NotYours()
    staff = who.role in STAFF_ROLES
    # Staff: the read and its audit entry in one transaction (no access without its record); citizens: a read.
    with transaction(request) if staff else sessions_of(request)() as session:
        households = store.households_of(session, stored_ids) if stored_ids else {}
        refused = [p for p in stored_ids if p not in households]
        if staff:
            refused += [
                p for p in stored_ids if p in households and not _in_scope(who, households[p].municipality_code)
            ]
        opened = store.open_entitlements(session, {h.id for h in households.values()}) if not refused else []
        if staff:
            append(
                session,
                AuditEntry(
                    who.subject,
                    who.role,
                    client_ip(request),
                    action + (".denied" if refused else ""),
                    "read",
                    data_subject=stored_ids[0] if len(stored_ids) == 1 else None,
                    detail={"stored_people": stored_ids, "events": len(situation.events)},
                ),
            )
    if refused:
        raise NotYours()
    return evaluate(situation, catalog_of(request), households, opened)


@router.post(
    "/v1/evaluations",
    response_model=Evaluation,
    responses={
        401: {},
        403: {"description": "Not a citizen, caseworker or supervisor"},
        404: {"description": "A stored person the caller may not read (or no such person)"},
        422: {"description": "A field breaks the situation format, or the events contradict each other"},
    },
)
def evaluations(body: Situation, who: PrincipalDep, request: Request) -> Evaluation | JSONResponse:
    """What if: every benefit's decision for a situation, by the rules and code the worker decides with.

    Eligibility (eligible, not eligible, undetermined with the missing facts), the amount and its unit, each
    deadline with its kind, the month payment starts, the reasons citing the law, and the trace. Nothing is
    stored; the situation format is docs/schemas/situation.json (version 2026-11)."""
    if who.role != "citizen" and who.role not in STAFF_ROLES:
        raise HTTPException(403, "this route is for citizens, caseworkers and supervisors")
    try:
        return run(request, who, body)
    except NotYours as exc:
        raise HTTPException(404, "not found") from exc
    except SituationRefused as refused:
        return problem(
            422,
            "Invalid situation",
            str(refused),
            "invalid-request",
            errors=[{"field": f"body.{refused.field}", "message": str(refused)}],
        )
