"""Re-evaluation after a rule change with fakes for its ports: corrections, notices, shadow mode, pages.

The same on the real parts: tests/entitlements/test_reevaluation.py.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from entitlements import CATALOG_DIR
from entitlements.batch import LifeEventProcessor
from entitlements.households import Citizen, Household
from entitlements.lifecycle import EntitlementStatus
from entitlements.ports import UnitOfWork
from entitlements.reevaluation import RULES_CHANGED, Reevaluator
from events.privacy import Pseudonymizer
from rules_engine.catalog import Catalog
from rules_engine.loader import load_catalog
from tests.entitlements.test_batch_unit import birth
from tests.entitlements.test_life_events import CATALOG
from tests.support.fakes import FakeLoopClosing, FakeOutbox, FakeStore, FakeUnitOfWork, units_of

S = EntitlementStatus
JUNE = date(2026, 6, 1)


@pytest.fixture(scope="module")
def new_law(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The catalog with the child allowance raised to 120,000 won from June 2026."""
    catalog = tmp_path_factory.mktemp("law") / "catalog"
    shutil.copytree(CATALOG_DIR, catalog)
    allowance = catalog / "birth" / "child_allowance.yaml"
    text = allowance.read_text(encoding="utf-8")
    assert "2018-09-01: 100000" in text
    allowance.write_text(text.replace("2018-09-01: 100000", "2018-09-01: 100000\n      2026-06-01: 120000"))
    return load_catalog(Path(catalog))


def families(count: int) -> FakeStore:
    """`count` households of parents (m-0 and f-0, …) whose child's allowance (100,000 won) is on offer."""
    store = FakeStore()
    for n in range(count):
        household = Household(f"hh-{n}", "41110", date(2020, 1, 1))
        for parent in (f"m-{n}", f"f-{n}"):
            household.members[parent] = Citizen(parent, f"hh-{n}", "parent", date(1990, 1, 1))
        one = FakeStore()
        one.seed(household)
        LifeEventProcessor(units_of(one), FakeOutbox(), FakeLoopClosing(), CATALOG, Pseudonymizer(b"k" * 32)).process(
            [birth(f"b-{n}", f"c-{n}", (f"m-{n}", f"f-{n}"))]
        )
        store.households.update(one.households)
        store.entitlements.update(one.entitlements)
        store.offers.update(one.offers)
    return store


def allowances(store: FakeStore) -> list[tuple[str, int | None]]:
    return sorted(
        (e.status.value, e.amount_krw) for e in store.entitlements.values() if e.benefit_id == "child_allowance"
    )


def test_a_rule_change_corrects_the_open_offers_and_tells_each_recipient_once(new_law: Catalog) -> None:
    store, outbox = families(1), FakeOutbox()
    assert allowances(store) == [("matched", 100_000)]

    report = Reevaluator(units_of(store), outbox).reevaluate(new_law, "child_allowance", JUNE, dry_run=False)

    assert (report.corrected, report.retracted) == (1, 0)
    assert allowances(store) == [("matched", 120_000), ("retracted", 100_000)]
    corrected = next(o for o in store.offers.values() if o.amount_krw == 120_000)
    assert corrected.corrects_id is not None and store.entitlements[corrected.corrects_id].status is S.RETRACTED
    assert report.notified == len(outbox.intents) == 2
    assert {i.event_type for i in outbox.intents} == {RULES_CHANGED}
    assert all(i.offer_ids == (corrected.id,) for i in outbox.intents)
    assert report.by_municipality == {"41110": 1}

    again = Reevaluator(units_of(store), outbox).reevaluate(new_law, "child_allowance", JUNE, dry_run=False)
    assert (again.examined, again.unchanged, again.corrected, again.notified) == (1, 1, 0, 0)
    assert len(outbox.intents) == 2  # nothing changed: nobody is told again


def test_shadow_mode_reports_and_writes_nothing(new_law: Catalog) -> None:
    store, outbox = families(2), FakeOutbox()

    report = Reevaluator(units_of(store), outbox).reevaluate(new_law, "child_allowance", JUNE, dry_run=True)

    assert (report.examined, report.corrected) == (2, 2)
    assert allowances(store) == [("matched", 100_000)] * 2
    assert outbox.intents == [] and store.commits == 0


def test_every_page_is_its_own_unit_of_work(new_law: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("entitlements.reevaluation.PAGE", 2)
    store, outbox, opened = families(5), FakeOutbox(), []

    def units() -> UnitOfWork:
        opened.append(FakeUnitOfWork(store))
        return opened[-1]

    report = Reevaluator(units, outbox).reevaluate(new_law, "child_allowance", JUNE, dry_run=False)

    assert report.corrected == 5 and len(outbox.intents) == 10
    # Pages of 2 over the 5 offers open at the start: each page commits alone, and the last, empty one ends the run.
    assert [u.committed for u in opened] == [True, True, True, False]
    assert allowances(store) == [("matched", 120_000)] * 5 + [("retracted", 100_000)] * 5


def test_each_offer_open_at_the_start_is_examined_once(new_law: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """A correction gets a new id, which may sort after the page being read: it is not met (and examined) again."""
    monkeypatch.setattr("entitlements.reevaluation.PAGE", 2)
    store = families(12)
    at_start = len(allowances(store))

    report = Reevaluator(units_of(store), FakeOutbox()).reevaluate(new_law, "child_allowance", JUNE, dry_run=False)

    assert at_start == 12 and (report.examined, report.corrected, report.unchanged) == (12, 12, 0)
    assert allowances(store) == [("matched", 120_000)] * 12 + [("retracted", 100_000)] * 12


def test_an_unknown_benefit_is_refused(new_law: Catalog) -> None:
    with pytest.raises(ValueError, match="unknown benefit 'nope'"):
        Reevaluator(units_of(FakeStore()), FakeOutbox()).reevaluate(new_law, "nope", JUNE, dry_run=False)
