"""The benefit catalog's model: agencies, benefits, periods, deadlines, the catalog and its indexes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rules_engine.categories import ConsentCategory
from rules_engine.conflicts import Conflict
from rules_engine.deadlines import ENDS_THE_OFFER, DeadlineKind
from rules_engine.expressions import (
    UNKNOWN,
    CompiledExpression,
)
from rules_engine.parameters import Parameter
from rules_engine.rounding import Rounding
from rules_engine.yaml_source import CatalogError as CatalogError  # raised by every reader of the catalog
from rules_engine.yaml_source import line_of, read_yaml

RECIPIENTS = frozenset({"parents", "household", "subject", "next_of_kin"})
PAYMENTS = frozenset({"once", "monthly", "information"})


@dataclass(frozen=True)
class Agency:
    id: str
    name: dict[str, str]
    url: str


@dataclass(frozen=True)
class LegalReference:
    ko: str
    en: str
    url: str | None


@dataclass(frozen=True)
class Condition:
    expression: CompiledExpression
    reason: dict[str, str]
    reference: str


@dataclass(frozen=True)
class Period:
    """A dated span the law defines, declared in the benefit's `periods:` (see docs/rules-format.md)."""

    name: str
    description: dict[str, str]
    reference: str
    counting: str | None  # the counting rule of a period with a length; None for one given by its bounds
    start: CompiledExpression  # its first day (a month's first day for "from the month of ...")
    end: CompiledExpression  # its last day, inclusive (moved to the next working day when `end_on_holiday` says)
    end_on_holiday: str = "unchanged"  # one of periods.END_ON_HOLIDAY (민법 제161조)


@dataclass(frozen=True)
class Deadline:
    """A dated deadline: the last day of one of the benefit's periods, and its kind (rules_engine/deadlines.py)."""

    period: str
    end: CompiledExpression
    kind: DeadlineKind = DeadlineKind.APPLICATION_CLOSES
    reference: str = ""  # why the law makes it this kind (defaults to the period's reference)


@dataclass(frozen=True)
class Assumption:
    """A value the benefit declares it uses while a fact is unknown, and why (never implied: see rules-format)."""

    fact: str
    value: Any
    reason: dict[str, str]


@dataclass(frozen=True)
class Places:
    """The household 시군구 codes a benefit is selected for before it is evaluated (`Catalog.triggered`): those
    `codes`, or with `outside` every code but those, an unknown one included.

    Selection only spares evaluating what cannot apply (a municipality's grant for a family elsewhere): the benefit
    still states its place as a condition, for its reasons and for the direct evaluation of an open offer.
    """

    codes: frozenset[str]
    outside: bool = False

    def selects(self, code: str | None) -> bool:
        if self.outside:
            return code is None or code not in self.codes
        return code is not None and code in self.codes


@dataclass(frozen=True)
class Benefit:
    id: str
    name: dict[str, str]
    summary: dict[str, str]
    agency: Agency
    category: ConsentCategory
    triggers: tuple[str, ...]
    recipients: str
    payment: str
    effective_from: date
    effective_until: date | None
    legal_basis: tuple[LegalReference, ...]
    source: str
    unconfirmed: tuple[str, ...]
    apply_url: str
    apply_how: dict[str, str]
    deadlines: tuple[Deadline, ...]
    periods: Mapping[str, Period]
    parameters: Mapping[str, Parameter]
    conditions: tuple[Condition, ...]
    amount: CompiledExpression | None
    file: str
    # Agencies whose application.received / benefit.granted for this benefit are believed: its own agency first,
    # then those the file lists under `closed_by` (e.g. the service that receives its applications).
    closers: tuple[str, ...] = ()
    rounding: Rounding | None = None  # applied once, to the amount (the catalog wraps the amount in it)
    assumptions: Mapping[str, Assumption] = field(default_factory=dict)
    table: str | None = None  # the municipal table whose row this benefit is (see grant_tables.py), if any
    places: Places | None = None  # None: selected for every household
    # An information offer standing in for a table row that is missing: the 시군구 code it stands in for
    # ("unlisted" for a code the list does not know, or an unknown one). The caseworker queue filters on it.
    coverage_gap: str | None = None

    @property
    def deadline(self) -> Deadline | None:
        """The deadline after which the offer ends (application closes or the entitlement ends), if declared:
        the date the SQL sweep and the reference interpreter compute besides the compiled engine."""
        return next((d for d in self.deadlines if d.kind in ENDS_THE_OFFER), None)

    def with_assumptions(self, facts: Mapping[str, Any]) -> Mapping[str, Any]:
        """The facts with the declared assumptions filled in where a fact is unknown."""
        if not self.assumptions or all(name in facts for name in self.assumptions):
            return facts
        return {**{a.fact: a.value for a in self.assumptions.values()}, **facts}

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_until is None or on <= self.effective_until)

    def params_at(self, on: date, facts: Mapping[str, Any]) -> dict[str, Any]:
        """Parameter values in force on `on`, or on the date of the fact a parameter is dated by."""
        values = {}
        for name, p in self.parameters.items():
            if p.dated_by is None:
                values[name] = p.at(on)
            else:
                when = facts.get(p.dated_by)
                values[name] = p.at(when) if isinstance(when, date) else UNKNOWN
        return values


@dataclass(frozen=True)
class PlaceSelection:
    """An event type's benefits per household code, for triggers with place-scoped benefits (see Places)."""

    by_code: Mapping[str, tuple[Benefit, ...]]  # for each code some benefit names
    elsewhere: tuple[Benefit, ...]  # for any other code, and for an unknown one


@dataclass(frozen=True)
class Catalog:
    benefits: Mapping[str, Benefit]
    agencies: Mapping[str, Agency]
    by_trigger: Mapping[str, tuple[Benefit, ...]] = field(default_factory=dict)
    conflicts: tuple[Conflict, ...] = ()
    by_place: Mapping[str, PlaceSelection] = field(default_factory=dict)

    def triggered(self, event_type: str, municipality_code: Any) -> tuple[Benefit, ...]:
        """The benefits an event type triggers for a household registered at this 시군구 code (None: unknown):
        those without places, and those whose places select the code. The engine, the reference interpreter
        and the SQL sweep (rules_engine.sql.BenefitSql.selected) select alike."""
        selection = self.by_place.get(event_type)
        if selection is None:
            return self.by_trigger.get(event_type, ())
        if isinstance(municipality_code, str):
            return selection.by_code.get(municipality_code, selection.elsewhere)
        return selection.elsewhere

    @classmethod
    def of(
        cls, benefits: Iterable[Benefit], agencies: Mapping[str, Agency], conflicts: tuple[Conflict, ...] = ()
    ) -> Catalog:
        ordered = sorted(benefits, key=lambda b: b.id)
        index: dict[str, list[Benefit]] = {}
        for benefit in ordered:
            for trigger in benefit.triggers:
                index.setdefault(trigger, []).append(benefit)
        by_place = {}
        for trigger, triggered in index.items():
            if all(b.places is None for b in triggered):
                continue
            named = {code for b in triggered if b.places is not None for code in b.places.codes}
            by_place[trigger] = PlaceSelection(
                {c: tuple(b for b in triggered if b.places is None or b.places.selects(c)) for c in sorted(named)},
                tuple(b for b in triggered if b.places is None or b.places.selects(None)),
            )
        by_trigger = {t: tuple(bs) for t, bs in index.items()}
        return cls({b.id: b for b in ordered}, agencies, by_trigger, conflicts, by_place)


def load_agencies(path: Path) -> dict[str, Agency]:
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: must map agency ids to names")
    agencies = {}
    for agency_id, spec in raw.items():
        if not isinstance(spec, dict) or not {"ko", "en", "url"} <= set(spec):
            raise CatalogError(f"{path}:{line_of(raw, agency_id)}: agency '{agency_id}' needs ko, en and url")
        agencies[agency_id] = Agency(agency_id, {"ko": spec["ko"], "en": spec["en"]}, spec["url"])
    return agencies
