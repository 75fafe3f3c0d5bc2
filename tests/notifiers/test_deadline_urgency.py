"""A push is urgent by the kind of its offers' deadlines: an application closing or a back-pay window still open."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from notifiers.outbox import _act_by

TODAY = date(2026, 4, 20)


def offer(**dated: object) -> SimpleNamespace:
    return SimpleNamespace(**{"deadline": None, "deadline_kind": None, "retroactive_until": None, **dated})


def test_the_day_to_act_by_follows_the_kind() -> None:
    assert _act_by(offer(deadline=date(2026, 4, 25), deadline_kind="application_closes"), TODAY) == date(2026, 4, 25)
    assert _act_by(offer(deadline=date(2026, 4, 25)), TODAY) == date(2026, 4, 25)  # a row dated before kinds
    # 부모급여: back-pay window open (act by its last day), the entitlement's far end is no reason to hurry
    parental = offer(retroactive_until=date(2026, 4, 29), deadline=date(2028, 2, 29), deadline_kind="entitlement_ends")
    assert _act_by(parental, TODAY) == date(2026, 4, 29)
    # the window passed: the right stands, nothing to hurry for
    assert _act_by(offer(retroactive_until=date(2026, 4, 19)), TODAY) is None
    assert _act_by(offer(deadline=date(2026, 4, 22), deadline_kind="entitlement_ends"), TODAY) is None
