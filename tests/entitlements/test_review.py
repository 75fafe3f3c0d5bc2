"""Review decisions on plain data: which transition each makes, what goes on record, when it is refused."""

from __future__ import annotations

import pytest

from entitlements.lifecycle import EntitlementStatus
from entitlements.review import Case, Refused, ReviewAction, Verdict, approve, assign, reject, request_information

PENDING = Case(EntitlementStatus.PENDING_REVIEW.value)
COLLEAGUES = {"park", "choi"}


def test_approve_moves_a_pending_case_to_matched_with_its_note() -> None:
    assert approve(PENDING, "documents checked") == Verdict(
        ReviewAction.APPROVED, EntitlementStatus.MATCHED, "documents checked"
    )
    assert approve(PENDING, "").note is None  # an empty note is no note


def test_approving_again_writes_nothing_whatever_the_status_now() -> None:
    for status in (EntitlementStatus.MATCHED, EntitlementStatus.NOTIFIED, EntitlementStatus.GRANTED):
        verdict = approve(Case(status.value, approved_before=True), "again")
        assert verdict.repeated and verdict.new_status is None


def test_approve_is_refused_where_the_lifecycle_forbids_matched() -> None:
    with pytest.raises(Refused, match="rejected; it can no longer be matched"):
        approve(Case(EntitlementStatus.REJECTED.value), None)


def test_reject_needs_a_reason_and_moves_to_rejected() -> None:
    with pytest.raises(Refused, match="needs a reason"):
        reject(PENDING, "  ")
    assert reject(PENDING, " income above the limit ") == Verdict(
        ReviewAction.REJECTED, EntitlementStatus.REJECTED, "income above the limit"
    )
    with pytest.raises(Refused, match="granted; it can no longer be rejected"):
        reject(Case(EntitlementStatus.GRANTED.value), "too late")


def test_information_is_requested_only_while_pending_and_changes_no_status() -> None:
    verdict = request_information(PENDING, " proof of residence ")
    assert verdict == Verdict(ReviewAction.INFO_REQUESTED, None, "proof of residence")
    with pytest.raises(Refused, match="say which information"):
        request_information(PENDING, "")
    with pytest.raises(Refused, match="only while pending review"):
        request_information(Case(EntitlementStatus.MATCHED.value), "proof")


def test_assign_only_pending_cases_to_active_colleagues() -> None:
    assert assign(PENDING, "park", COLLEAGUES) == Verdict(ReviewAction.ASSIGNED, assignee="park")
    with pytest.raises(Refused, match="not an active colleague"):
        assign(PENDING, "stranger", COLLEAGUES)
    with pytest.raises(Refused, match="only pending cases"):
        assign(Case(EntitlementStatus.MATCHED.value), "park", COLLEAGUES)
