"""After a rule change: every open offer of a benefit is re-decided on the new law, in pages, and corrected.

Corrected offers replace the old ones (which are retracted) and offers no longer due are retracted; each page is
one transaction. With `dry_run` (shadow mode) the figures are reported and nothing is written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from entitlements import store
from entitlements.matching import Outcome, reconsider
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
    by_municipality: Counter[str] = field(default_factory=Counter)


def reevaluate_benefit(
    sessions: sessionmaker[Session], catalog: Catalog, benefit_id: str, on: date, dry_run: bool
) -> Reevaluation:
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
    report, after = Reevaluation(), ""
    while True:
        with sessions.begin() as session:
            page = store.open_offers_of_benefit(session, benefit_id, after, PAGE)
            if not page:
                return report
            after = page[-1].id
            households = store.households_by_id(session, {o.household_id for o in page})
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
            if not dry_run:
                store.save_batch(session, [], [], outcome.offers, [], outcome.status_changes)
            else:
                session.rollback()
