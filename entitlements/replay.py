"""Shadow mode for a rule change: replay the event history through the current and a candidate catalog.

The history is read from Kafka (its own consumer, no group: committed offsets of the workers are untouched),
profiles are rebuilt in memory from the events themselves, and nothing is written or sent: the result is
the difference in offers per benefit, to review before the candidate catalog goes live.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from entitlements.matching import ProfileBook, ProfileContradiction, handle
from events.contracts import LifeEvent
from rules_engine.catalog import Catalog


@dataclass
class ShadowReport:
    events: int = 0
    refused: int = 0
    current: Counter[str] = field(default_factory=Counter)  # offers per benefit under the catalog in force
    candidate: Counter[str] = field(default_factory=Counter)

    def differences(self) -> dict[str, tuple[int, int]]:
        names = set(self.current) | set(self.candidate)
        return {b: (self.current[b], self.candidate[b]) for b in sorted(names) if self.current[b] != self.candidate[b]}


def shadow_replay(history: Iterable[LifeEvent | None], current: Catalog, candidate: Catalog) -> ShadowReport:
    report = ShadowReport()
    books = {"current": ProfileBook({}, []), "candidate": ProfileBook({}, [])}
    seen: set[tuple[str, str]] = set()
    for event in history:
        if event is None:
            report.refused += 1
            continue
        if event.envelope.key in seen:
            continue  # the pipeline de-duplicates the same way
        seen.add(event.envelope.key)
        report.events += 1
        for name, catalog in (("current", current), ("candidate", candidate)):
            try:
                outcome = handle(event, books[name], catalog)
            except ProfileContradiction:
                continue
            counts = report.current if name == "current" else report.candidate
            counts.update(o.benefit_id for o in outcome.offers if o.status == "matched")
    return report
