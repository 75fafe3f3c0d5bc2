"""How the app words offers: amounts with their unit, countdowns, life events, corrections shown as such."""

from __future__ import annotations

from datetime import UTC, date, datetime

from beforeservice.citizen_app.inbox_view import amount_text, countdown, group_by_life_event, life_event_label
from entitlements import CATALOG_DIR
from entitlements.persistence.tables import EntitlementRow
from notifiers.tables import NotificationRow
from rules_engine.loader import load_catalog

TODAY = date(2026, 3, 10)


def _offer(offer_id: str, amount: int, status: str = "notified", corrects: str | None = None) -> EntitlementRow:
    return EntitlementRow(
        id=offer_id,
        benefit_id="child_allowance",
        status=status,
        amount_krw=amount,
        payment="monthly",
        deadline=None,
        deadline_kind=None,
        retroactive_until=date(2026, 3, 20),
        use_by=None,
        deadlines=[],
        corrects_id=corrects,
    )


def _notification(offer_ids: list[str], event_type: str = "kr.go.mois.birth.registered") -> NotificationRow:
    return NotificationRow(
        id="n1",
        event_source="/agencies/mois/registry/41110",
        event_id="e1",
        event_type=event_type,
        offer_ids=offer_ids,
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )


def test_amounts_countdowns_and_life_events() -> None:
    assert amount_text(100_000, "monthly") == "100,000원 (매달)"
    assert amount_text(3_000_000, "once") == "3,000,000원 (한 번)"
    assert amount_text(None, "information") == "정보 안내"
    assert countdown(date(2026, 3, 20), TODAY) == "D-10"
    assert countdown(TODAY, TODAY) == "오늘까지"
    assert countdown(date(2026, 3, 1), TODAY) == "지남"
    assert life_event_label("kr.go.mois.birth.registered") == "아이가 태어났어요"
    assert life_event_label("kr.go.unknown.thing") == "안내"


def test_a_correction_is_shown_with_the_amount_it_replaces_and_a_retraction_as_such() -> None:
    catalog = load_catalog(CATALOG_DIR)
    before = _offer("old", 100_000, status="retracted")
    after = _offer("new", 120_000, corrects="old")
    groups = group_by_life_event(
        [_notification(["new", "old"])], {"old": before, "new": after}, catalog, TODAY, declined=set()
    )
    [group] = groups
    assert group.label == "아이가 태어났어요"
    corrected, retracted = group.offers
    assert corrected.amount == "120,000원 (매달)"
    assert corrected.correction == "정정된 안내입니다: 이전 안내 100,000원 (매달) → 120,000원 (매달)"
    assert retracted.status_label == "안내 취소"
    [back_pay] = corrected.deadlines
    assert (back_pay.label, back_pay.countdown, back_pay.urgent) == ("소급 신청 기한", "D-10", True)


def test_an_offer_told_twice_is_shown_once_and_pending_review_not_at_all() -> None:
    catalog = load_catalog(CATALOG_DIR)
    offers = {"a": _offer("a", 100_000), "p": _offer("p", 1, status="pending_review")}
    reminder = _notification(["a"])
    groups = group_by_life_event([_notification(["a", "p"]), reminder], offers, catalog, TODAY, declined={"a"})
    assert [[o.id for o in g.offers] for g in groups] == [["a"]]
    assert groups[0].offers[0].declined
