"""A rule change re-decides the open offers in the store: shadow mode reports, a real run corrects and retracts."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.bootstrap import life_event_processor, reevaluator
from entitlements import CATALOG_DIR
from entitlements.batch import Record
from entitlements.persistence.tables import EntitlementRow
from entitlements.reevaluation import RULES_CHANGED
from events.privacy import Pseudonymizer
from notifiers.rendering import NotificationTemplates
from notifiers.tables import NotificationRow
from rules_engine.loader import load_catalog
from tests.support.births import birth_event, seed_household

pytestmark = pytest.mark.integration


def allowances(sessions: sessionmaker[Session]) -> list[EntitlementRow]:
    with sessions() as session:
        query = select(EntitlementRow).where(EntitlementRow.benefit_id == "child_allowance")
        return list(session.scalars(query.order_by(EntitlementRow.created_at)))


def notices(sessions: sessionmaker[Session], event_type: str | None = None) -> list[NotificationRow]:
    with sessions() as session:
        query = select(NotificationRow)
        if event_type is not None:
            query = query.where(NotificationRow.event_type == event_type)
        return list(session.scalars(query))


def test_rule_change_corrects_amounts_and_shadow_mode_writes_nothing(
    sessions: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("entitlements.reevaluation.PAGE", 1)  # a correction written mid-run must not be met again
    processor = life_event_processor(
        sessions, load_catalog(CATALOG_DIR), NotificationTemplates(), Pseudonymizer(b"k" * 32)
    )
    for n in range(3):
        seed_household(sessions, f"hh-{n}", [f"m-{n}"], "41110", date(2020, 1, 1))
        event = birth_event(mother=f"m-{n}", child=f"c-{n}", birth_order=1, born="2026-03-01", registered="2026-03-03")
        processor.process([Record("life-events", 0, n, None, event.to_structured(), [])])
    assert [o.amount_krw for o in allowances(sessions)] == [100_000] * 3

    new_catalog = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, new_catalog)
    allowance = new_catalog / "birth" / "child_allowance.yaml"
    text = allowance.read_text(encoding="utf-8")
    assert "2018-09-01: 100000" in text
    allowance.write_text(text.replace("2018-09-01: 100000", "2018-09-01: 100000\n      2026-06-01: 120000"))
    new_law = load_catalog(new_catalog)

    births_notified = len(notices(sessions))
    shadow = reevaluator(sessions).reevaluate(new_law, "child_allowance", date(2026, 6, 1), dry_run=True)
    assert (shadow.examined, shadow.corrected, shadow.retracted) == (3, 3, 0)
    assert [o.status for o in allowances(sessions)] == ["matched"] * 3  # nothing written
    assert len(notices(sessions)) == births_notified  # nor notified

    real = reevaluator(sessions).reevaluate(new_law, "child_allowance", date(2026, 6, 1), dry_run=False)
    assert (real.examined, real.corrected) == (3, 3)
    rows = allowances(sessions)
    assert sorted((o.status, o.amount_krw) for o in rows) == [("matched", 120_000)] * 3 + [("retracted", 100_000)] * 3
    assert {o.corrects_id for o in rows if o.amount_krw == 120_000} == {o.id for o in rows if o.amount_krw == 100_000}

    # Each mother hears of the change, once, with the new amount, through the outbox like any notification.
    changed = notices(sessions, RULES_CHANGED)
    assert real.notified == 3 and sorted(n.recipient_id for n in changed) == ["m-0", "m-1", "m-2"]
    corrected = {o.id for o in rows if o.amount_krw == 120_000}
    for notice in changed:
        assert set(notice.offer_ids) <= corrected and len(notice.offer_ids) == 1
        assert notice.dispatch_status == "pending"
        assert notice.lock_screen_title == "혜택 안내가 바뀌었어요"
        assert "120,000원" in notice.message_ko and "120,000" not in notice.lock_screen_body  # lock screen: no amount
        assert "replaces the earlier notice" in notice.message_en
    again = reevaluator(sessions).reevaluate(new_law, "child_allowance", date(2026, 6, 1), dry_run=False)
    assert (again.examined, again.unchanged, again.corrected, again.notified) == (3, 3, 0, 0)
    assert len(notices(sessions, RULES_CHANGED)) == 3  # nothing changed, nobody is told again
