"""After a rule change: every open offer of a benefit is re-decided on the new law, in pages, and corrected.

Corrected offers replace the old ones (which are retracted) and offers no longer due are retracted; the people
concerned get a notice of what changed through the outbox; each page is one transaction. With `dry_run` (shadow
mode) the figures are reported and nothing is written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pydantic import BaseModel

from entitlements.matching import NotificationIntent, Offer, Outcome, notification_intents, reconsider
from entitlements.ports import Outbox, Units
from events.cloudevents import CloudEvent
from events.contracts import LifeEvent
from rules_engine.catalog import Catalog

RULES_CHANGED = "kr.go.beforeservice.rules.changed"
PAGE = 500


class RuleChange(BaseModel):
    benefit_id: str
    on: date


@dataclass
class Reevaluation:
    examined: int = 0
    unchanged: int = 0
    corrected: int = 0
    retracted: int = 0
    notified: int = 0  # notifications of corrected offers written to the outbox (one per recipient and household)
    by_municipality: Counter[str] = field(default_factory=Counter)


class Reevaluator:
    """Re-decides a benefit's open offers on a new law, a page per unit of work (ports: entitlements/ports.py)."""

    def __init__(self, units: Units, outbox: Outbox) -> None:
        self.units, self.outbox = units, outbox

    def reevaluate(self, catalog: Catalog, benefit_id: str, on: date, dry_run: bool) -> Reevaluation:
        if benefit_id not in catalog.benefits:
            raise ValueError(f"unknown benefit '{benefit_id}'")
        change = CloudEvent(
            id=f"{benefit_id}:{on.isoformat()}:{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}",
            source="/beforeservice/catalog",
            specversion="1.0",
            type=RULES_CHANGED,
            data={"benefit_id": benefit_id, "on": on.isoformat()},
        )
        event = LifeEvent(change, RuleChange(benefit_id=benefit_id, on=on))
        # The offers open when the run starts: the corrections it writes get new ids, which may sort after the page
        # being read, and are already decided on the new law (keyset paging by id, bounded by the start).
        started = datetime.now(UTC)
        report, after = Reevaluation(), ""
        while True:
            with self.units() as unit:
                page = unit.open_offers_of_benefit(benefit_id, after, PAGE, started)
                if not page:
                    return report
                after = page[-1].id
                households = unit.households_by_id({o.household_id for o in page})
                outcome = Outcome()
                for offer in page:
                    household = households.get(offer.household_id)
                    report.examined += 1
                    if household is None:
                        continue
                    before = len(outcome.status_changes)
                    corrected = reconsider(event, catalog, household, offer, on, outcome)
                    if corrected is not None:
                        outcome.offers.append(corrected)
                        report.corrected += 1
                    elif len(outcome.status_changes) > before:
                        report.retracted += 1
                    else:
                        report.unchanged += 1
                        continue
                    report.by_municipality[household.municipality_code or "unknown"] += 1
                if dry_run:  # shadow mode: leaving the unit of work uncommitted writes nothing
                    continue
                unit.save([], [], outcome.offers, outcome.status_changes)
                report.notified += self.outbox.add(unit, notices(event, outcome.offers), outcome.offers, catalog)
                unit.commit()


def notices(event: LifeEvent, corrected: list[Offer]) -> list[NotificationIntent]:
    """Citizens hear of a correction as they heard of the offer (Gubi re-notifies changed amounts): one notice per
    recipient and household, through the outbox, with the usual consent, quiet hours and budget. A retraction is
    not pushed: the inbox shows the offer as withdrawn."""
    by_household: dict[str, list[Offer]] = {}
    for offer in corrected:
        by_household.setdefault(offer.household_id, []).append(offer)
    return [i for household, offers in by_household.items() for i in notification_intents(event, offers, household)]
