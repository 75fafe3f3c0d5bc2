"""Every role against the review, citizen and audit routes: scope, enumeration, masking, decisions, audit."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from beforeservice.auth import issue_token
from beforeservice.console.tables import AuditRow, ReviewActionRow, ReviewCaseRow
from beforeservice.settings import Settings
from entitlements import ids
from entitlements.persistence.tables import EntitlementRow
from notifiers.tables import NotificationRow
from tests.beforeservice.api.stack import GANGNAM, PASSWORD, SUWON, Stack
from tests.conftest import TOKEN_SECRET, citizen_headers

pytestmark = pytest.mark.integration


def token(subject: str, role: str, scopes: dict[str, list[str]] | None = None) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_token(Settings(token_secret=TOKEN_SECRET), subject, role, scopes)}"}


def audit_of(stack: Stack, account: str) -> list[AuditRow]:
    with stack.sessions() as session:
        return list(session.scalars(select(AuditRow).where(AuditRow.account == account).order_by(AuditRow.id)))


def test_caseworkers_see_only_their_agency_and_municipality(stack: Stack) -> None:
    suwon_case, suwon_child, _ = stack.pending_case(SUWON)
    seoul_case, _, _ = stack.pending_case(GANGNAM)
    kim, choi = stack.bearer("kim.suwon"), stack.bearer("choi.gangnam")

    queue = stack.client.get("/v1/review/cases", headers=kim).json()
    ids = {c["id"] for c in queue}
    assert suwon_case in ids and seoul_case not in ids
    assert {c["benefit_id"] for c in queue} == {"suwon_birth_grant"}
    assert all(c["municipality"].startswith("4111") for c in queue)

    # Cross-tenant: the Seoul case by id is not found for Suwon, exactly like an id that does not exist.
    cross = stack.client.get(f"/v1/review/cases/{seoul_case}", headers=kim)
    absent = stack.client.get(f"/v1/review/cases/{uuid.uuid4()}", headers=kim)
    assert cross.status_code == absent.status_code == 404
    assert cross.json()["detail"] == absent.json()["detail"]
    assert stack.client.get(f"/v1/review/cases/{suwon_case}", headers=choi).status_code == 404
    decision = stack.client.post(f"/v1/review/cases/{seoul_case}/decision", json={"action": "approve"}, headers=kim)
    assert decision.status_code == 404
    with stack.sessions() as session:
        assert session.get(EntitlementRow, seoul_case).status == "pending_review"  # type: ignore[union-attr]
    # The probe itself is on record.
    assert [r.action for r in audit_of(stack, "kim.suwon")][-1] == "case.approve.denied"

    # A national scope does not widen the municipality: the token's scopes are the account's.
    assert stack.client.get(f"/v1/review/cases/{suwon_case}", headers=kim).status_code == 200
    assert suwon_child not in stack.client.get(f"/v1/review/cases/{suwon_case}", headers=kim).text


def test_personal_data_masked_for_caseworkers_not_for_supervisors(stack: Stack) -> None:
    case, child, _ = stack.pending_case(SUWON)
    as_caseworker = stack.client.get(f"/v1/review/cases/{case}", headers=stack.bearer("kim.suwon"))
    assert as_caseworker.status_code == 200
    body = as_caseworker.json()
    assert child not in as_caseworker.text and "*" in body["beneficiary"]
    assert body["missing"] == ["household.months_resident"]
    assert any(step["holds"] is None for step in body["trace"])  # the residence condition: undetermined
    assert [t["what"] for t in body["timeline"]][:2] == ["kr.go.mois.birth.registered", "entitlement.created"]
    as_supervisor = stack.client.get(f"/v1/review/cases/{case}", headers=stack.bearer("park.suwon")).json()
    assert as_supervisor["beneficiary"] == child and as_supervisor["citizen"]["person"] == child

    reads = [r for r in audit_of(stack, "kim.suwon") if r.object_id == case]
    assert reads and reads[-1].action == "case.read" and reads[-1].data_subject == child
    assert reads[-1].ip == "127.0.0.1" and reads[-1].role == "caseworker"


def test_approve_notifies_the_parents_and_approving_again_writes_nothing(stack: Stack) -> None:
    case, child, parents = stack.pending_case(SUWON)
    kim = stack.bearer("kim.suwon")
    r = stack.client.post(
        f"/v1/review/cases/{case}/decision", json={"action": "approve", "reason": "전입 확인"}, headers=kim
    )
    assert r.status_code == 200 and r.json()["status"] == "matched"
    sent = approval_notices(stack, case)
    assert sorted(n.recipient_id for n in sent) == sorted(parents)
    assert sorted(n.id for n in sent) == sorted(ids.approval_notice_id(case, p) for p in parents)
    assert {n.dispatch_status for n in sent} == {"pending"}
    assert all(child not in n.lock_screen_title + n.lock_screen_body for n in sent)
    assert "수원시 출산지원금" in sent[0].message_ko and sent[0].message_ko.startswith("담당 공무원이 확인한 결과")

    # The same approval again (a resubmitted form, a retried request): the same answer, nothing written.
    park = stack.bearer("park.suwon")  # a supervisor: the answer names the recipients
    again = stack.client.post(f"/v1/review/cases/{case}/decision", json={"action": "approve"}, headers=park)
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "matched" and sorted(again.json()["notified"]) == sorted(parents)
    assert sorted(n.id for n in approval_notices(stack, case)) == sorted(n.id for n in sent)
    with stack.sessions() as session:
        actions = session.scalars(select(ReviewActionRow.action).where(ReviewActionRow.entitlement_id == case))
        assert list(actions) == ["approved"]
    writes = [r for r in audit_of(stack, "kim.suwon") if r.object_id == case and r.kind == "write"]
    assert [w.action for w in writes] == ["case.approve"] and writes[0].data_subject == child
    repeated = [r for r in audit_of(stack, "park.suwon") if r.object_id == case]
    assert [(r.action, r.kind) for r in repeated] == [("case.approve.repeated", "read")]


def approval_notices(stack: Stack, case: str) -> list[NotificationRow]:
    with stack.sessions() as session:
        rows = session.scalars(select(NotificationRow).where(NotificationRow.offer_ids.is_not(None))).all()
        return [n for n in rows if case in n.offer_ids]


def test_reject_request_information_assign_and_bulk(stack: Stack) -> None:
    kim = stack.bearer("kim.suwon")
    to_reject, _, _ = stack.pending_case(SUWON)
    r = stack.client.post(f"/v1/review/cases/{to_reject}/decision", json={"action": "reject"}, headers=kim)
    assert r.status_code == 409  # a rejection needs a reason
    r = stack.client.post(
        f"/v1/review/cases/{to_reject}/decision", json={"action": "reject", "reason": "타 시 전출"}, headers=kim
    )
    assert r.json()["status"] == "rejected"
    with stack.sessions() as session:  # the reason is kept (sealed) with the case, not in the append-only log
        assert session.get(ReviewCaseRow, to_reject).rejection_reason == "타 시 전출"  # type: ignore[union-attr]
    rejected = [a for a in audit_of(stack, "kim.suwon") if a.action == "case.reject"]
    assert rejected and rejected[-1].detail["reason_given"] is True
    assert "타 시 전출" not in str([a.detail for a in audit_of(stack, "kim.suwon")])

    asked, _, _ = stack.pending_case(SUWON)
    r = stack.client.post(
        f"/v1/review/cases/{asked}/decision", json={"action": "request_info", "reason": "전입일 확인"}, headers=kim
    )
    assert r.status_code == 200
    waiting = stack.client.get("/v1/review/cases", params={"status": "info_requested"}, headers=kim).json()
    assert [c["id"] for c in waiting if c["id"] == asked] == [asked]

    # Assign only to a colleague of the same agency.
    r = stack.client.post(
        f"/v1/review/cases/{asked}/decision", json={"action": "assign", "assignee": "choi.gangnam"}, headers=kim
    )
    assert r.status_code == 409
    r = stack.client.post(
        f"/v1/review/cases/{asked}/decision", json={"action": "assign", "assignee": "lee.suwon"}, headers=kim
    )
    assert r.status_code == 200

    a, _, _ = stack.pending_case(SUWON)
    b, _, _ = stack.pending_case(SUWON)
    seoul, _, _ = stack.pending_case(GANGNAM)
    r = stack.client.post(
        "/v1/review/cases:bulk",
        json={"ids": [a, b, seoul, to_reject], "action": "assign", "assignee": "lee.suwon"},
        headers=kim,
    )
    assert r.status_code == 200
    assert sorted(r.json()["done"]) == sorted([a, b])
    assert r.json()["refused"][seoul] == "not found"
    assert "rejected" in r.json()["refused"][to_reject]
    with stack.sessions() as session:
        assert session.get(ReviewCaseRow, a).assigned_to == "lee.suwon"  # type: ignore[union-attr]
        assert session.get(ReviewCaseRow, seoul) is None
    mine = stack.client.get("/v1/review/cases", headers=stack.bearer("lee.suwon")).json()
    assert {a, b, asked} <= {c["id"] for c in mine if c["assigned_to"] == "lee.suwon"}


def test_each_role_reaches_only_its_routes(stack: Stack) -> None:
    case, _, parents = stack.pending_case(SUWON)
    citizen = citizen_headers(parents[0])
    agency = token("mois", "agency")
    auditor = stack.bearer("jung.audit")
    for headers, expected in ((citizen, 403), (agency, 403), (auditor, 403), ({}, 401)):
        assert stack.client.get("/v1/review/cases", headers=headers).status_code == expected
        assert stack.client.get(f"/v1/review/cases/{case}", headers=headers).status_code == expected
    assert stack.client.get("/v1/audit", headers=stack.bearer("kim.suwon")).status_code == 403
    assert stack.client.get("/v1/audit", headers=stack.bearer("park.suwon")).status_code == 403
    assert stack.client.get("/v1/audit", headers=citizen).status_code == 403
    # A forged token (wrong key) and a wrong password.
    forged = {"authorization": "Bearer " + issue_token(Settings(token_secret="x" * 40), "kim.suwon", "supervisor")}
    assert stack.client.get("/v1/review/cases", headers=forged).status_code == 401
    wrong = stack.client.post("/v1/caseworkers/token", json={"username": "kim.suwon", "password": PASSWORD + "!"})
    nobody = stack.client.post("/v1/caseworkers/token", json={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == nobody.status_code == 401
    # A caseworker token with a hand-made wider scope is still just what was signed: only the engine signs.
    assert stack.client.get("/v1/review/cases", headers=stack.bearer("choi.gangnam")).status_code == 200


def test_citizens_read_and_open_only_their_own_offers(stack: Stack) -> None:
    case, _, parents = stack.pending_case(SUWON)
    stack.client.post(
        f"/v1/review/cases/{case}/decision", json={"action": "approve"}, headers=stack.bearer("kim.suwon")
    )
    mother, father = parents
    other_case, _, others = stack.pending_case(SUWON)

    offers = stack.client.get(f"/v1/citizens/{mother}/offers", headers=citizen_headers(mother))
    assert offers.status_code == 200
    listed = {o["id"]: o for o in offers.json()["offers"]}
    assert case in listed and other_case not in listed
    assert listed[case]["reason_ko"] and listed[case]["apply_url"].startswith("https://")
    assert {o["status"] for o in listed.values()} <= {"matched", "notified", "viewed"}

    # Another citizen's list, and another citizen's offer, are simply not found.
    assert stack.client.get(f"/v1/citizens/{mother}/offers", headers=citizen_headers(others[0])).status_code == 404
    assert stack.client.get(f"/v1/citizens/{mother}/offers").status_code == 401
    probe = stack.client.post(f"/v1/citizens/{others[0]}/offers/{case}/viewed", headers=citizen_headers(others[0]))
    assert probe.status_code == 404
    assert stack.client.get(f"/v1/citizens/{mother}/offers", headers=stack.bearer("kim.suwon")).status_code == 403

    viewed = stack.client.post(f"/v1/citizens/{mother}/offers/{case}/viewed", headers=citizen_headers(mother))
    assert viewed.status_code == 200 and viewed.json()["status"] == "viewed"
    with stack.sessions() as session:
        assert session.get(EntitlementRow, case).status == "viewed"  # type: ignore[union-attr]
        mine = [n for n in session.scalars(select(NotificationRow).where(NotificationRow.recipient_id == mother))]
        assert [n.viewed_at is not None for n in mine if case in n.offer_ids] == [True]
    link = stack.client.get(f"/v1/citizens/{mother}/offers/{case}/apply", headers=citizen_headers(mother))
    assert link.status_code == 303 and link.headers["location"] == listed[case]["apply_url"]
    assert stack.client.get(f"/v1/citizens/{father}/offers", headers=citizen_headers(father)).json()["offers"]


def test_auditor_reads_the_log_and_the_chain_holds(stack: Stack) -> None:
    case, child, _ = stack.pending_case(SUWON)
    stack.client.get(f"/v1/review/cases/{case}", headers=stack.bearer("park.suwon"))
    page = stack.client.get("/v1/audit", params={"data_subject": child}, headers=stack.bearer("jung.audit"))
    assert page.status_code == 200
    body = page.json()
    assert body["chain_ok"] is True and body["checked"] >= 1
    assert [(e["account"], e["action"]) for e in body["entries"]] == [("park.suwon", "case.read")]
    assert audit_of(stack, "jung.audit")[-1].action == "audit.read"  # reading the log is itself logged
