"""What-if evaluations (OpenFisca's /calculate and /trace): a situation in, every benefit's decision out.

A situation is households with their members and facts, optionally the stored profiles of named people, and
a sequence of life events; nothing is stored. The events run through the worker's own handlers
(`entitlements.matching.handle`) over an in-memory `ProfileBook`, so a decision here is the decision the worker
would store for the same event: no second evaluator. What the handlers decline (not eligible) is collected
alongside (`collecting_declined`), and offers still open are re-checked on the situation's date with the
worker's own re-evaluation (`reconsider`). The request format is versioned (`version`); docs/rules-format.md
("What if") describes it and docs/schemas/situation.json is its JSON Schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from entitlements.households import Citizen, Household
from entitlements.lifecycle import OPEN, EntitlementStatus
from entitlements.matching import (
    Declined,
    Offer,
    OpenEntitlement,
    Outcome,
    ProfileBook,
    ProfileContradiction,
    collecting_declined,
    handle,
    reconsider,
)
from entitlements.profiles import profile_facts
from events.assessment import INCOME_ASSESSED, IncomeAssessed
from events.birth import BIRTH_REGISTERED, BirthRegistered
from events.cloudevents import CloudEvent
from events.contracts import CONTRACTS, LifeEvent
from events.death import DEATH_REGISTERED, DeathRegistered
from events.disability import DISABILITY_REGISTERED, DisabilityRegistered
from events.employment import EMPLOYMENT_LOST, EmploymentLost
from events.marriage import MARRIAGE_REGISTERED, MarriageRegistered
from events.milestones import MILESTONE_REACHED, MilestoneReached
from events.moves import ADDRESS_MOVED, AddressMoved
from events.people import MunicipalityCode, PersonId
from events.values import EARLIEST_DATE, Count, Flag, PastDate, iso_date_string, latest_date
from rules_engine.catalog import Benefit, Catalog
from rules_engine.eligibility import Eligibility
from rules_engine.evaluation import evaluate_benefit
from rules_engine.explanation import explain
from rules_engine.expressions import UNKNOWN
from rules_engine.facts import situation as derived_facts

VERSION = "2026-11"
MAX_PEOPLE = 20
MAX_HOUSEHOLDS = 10
MAX_EVENTS = 50
FORECAST_YEARS = 5


def _within_forecast(value: date) -> date:
    # The day asked about may lie ahead ("what changes at the first birthday?"); the events may not (they are
    # registry records and keep their contracts' bounds). Five years covers every age step of the catalog's
    # young-child benefits without inviting dates the law's parameters cannot speak for.
    today = latest_date()
    latest = date(today.year + FORECAST_YEARS, today.month, min(today.day, 28))  # no 29 February to miss
    if not EARLIEST_DATE <= value <= latest:
        raise ValueError(f"must lie between {EARLIEST_DATE.isoformat()} and {latest.isoformat()}")
    return value


ForecastDate = Annotated[
    date,
    BeforeValidator(iso_date_string),
    AfterValidator(_within_forecast),
    Field(description=f"YYYY-MM-DD, from 1900-01-01 to {FORECAST_YEARS} years from today"),
]
WHATIF_SOURCE = "/beforeservice/whatif"
PAID_MONTHS = "paid_months"  # the period a monthly benefit declares for the months it pays (docs/rules-format.md)
HOUSEHOLD_ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-:.]{0,63}$"
Money = Annotated[int, Field(strict=True, ge=0, le=10_000_000_000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the request --------------------------------------------------------------------------------------------


class PersonFacts(_Strict):
    """What registries tell about a person (entitlements.households.PERSON_FACTS); absent = not known."""

    deceased_on: PastDate | None = None
    disability_severity: Literal["severe", "mild"] | None = None
    insured_days: Count | None = Field(default=None, ge=0, le=20_000)
    separation_reason: Literal["involuntary", "voluntary"] | None = None
    separated_on: PastDate | None = None
    average_daily_wage: Money | None = None
    recognized_income_krw: Money | None = None
    nps_contribution_months: Count | None = Field(default=None, ge=0, le=1_200)
    married_on: PastDate | None = None
    is_homeowner: Flag | None = None
    monthly_rent_krw: Money | None = None
    is_couple: Flag | None = Field(default=None, description="lives with a spouse (기초연금 couple rules)")


class HouseholdFacts(_Strict):
    """What registries tell about a household (entitlements.households.HOUSEHOLD_FACTS)."""

    previous_municipality_code: MunicipalityCode | None = None
    median_income_ratio: Count | None = Field(default=None, ge=0, le=1_000, description="% of 기준 중위소득")
    livelihood_recipient: Flag | None = None
    income_percentile: Count | None = Field(default=None, ge=0, le=100)


class Member(_Strict):
    id: PersonId
    role: Literal["parent", "guardian", "child", "head", "spouse", "adult"]
    birth_date: PastDate | None = None
    birth_order: Count | None = Field(default=None, ge=1, le=20, description="children only: 1 for a first child")
    facts: PersonFacts = PersonFacts()


class SituationHousehold(_Strict):
    id: str = Field(pattern=HOUSEHOLD_ID_PATTERN, description="a label for the household (ASCII)")
    municipality_code: MunicipalityCode | None = None
    resident_since: PastDate | None = Field(default=None, description="registered at municipality_code since")
    facts: HouseholdFacts = HouseholdFacts()
    members: list[Member] = Field(min_length=1, max_length=MAX_PEOPLE)


# One model per event type: `data` is the event type's own contract (events/*.py), validated as the API's
# /v1/events validates it, and documented in the schema per type.
class BirthEvent(_Strict):
    type: Literal["kr.go.mois.birth.registered"]
    data: BirthRegistered


class DeathEvent(_Strict):
    type: Literal["kr.go.mois.death.registered"]
    data: DeathRegistered


class MoveEvent(_Strict):
    type: Literal["kr.go.mois.address.moved"]
    data: AddressMoved


class MarriageEvent(_Strict):
    type: Literal["kr.go.mois.marriage.registered"]
    data: MarriageRegistered


class EmploymentLostEvent(_Strict):
    type: Literal["kr.go.moel.employment.lost"]
    data: EmploymentLost


class DisabilityEvent(_Strict):
    type: Literal["kr.go.mohw.disability.registered"]
    data: DisabilityRegistered


class IncomeAssessedEvent(_Strict):
    type: Literal["kr.go.nhis.income.assessed"]
    data: IncomeAssessed


class MilestoneEvent(_Strict):
    type: Literal["kr.go.beforeservice.milestone.reached"]
    data: MilestoneReached


SituationEvent = Annotated[
    BirthEvent
    | DeathEvent
    | MoveEvent
    | MarriageEvent
    | EmploymentLostEvent
    | DisabilityEvent
    | IncomeAssessedEvent
    | MilestoneEvent,
    Field(discriminator="type"),
]
_EVENT_TYPES = (
    BIRTH_REGISTERED,
    DEATH_REGISTERED,
    ADDRESS_MOVED,
    MARRIAGE_REGISTERED,
    EMPLOYMENT_LOST,
    DISABILITY_REGISTERED,
    INCOME_ASSESSED,
    MILESTONE_REACHED,
)
assert set(_EVENT_TYPES) == set(CONTRACTS), "every life event contract has a what-if event type"


class Situation(_Strict):
    """A what-if: households as they are, stored profiles to start from, and the life events that happen."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="Situation")

    version: Literal["2026-11"] = Field(description="the version of this format; another is refused")
    date: ForecastDate = Field(
        description="the day the question is asked (up to five years ahead): open offers are re-checked on it"
    )
    stored_people: list[PersonId] = Field(
        default=[],
        max_length=MAX_PEOPLE,
        description="people whose stored household (and open offers) the what-if starts from; a citizen may "
        "name only themselves; nothing is written",
    )
    households: list[SituationHousehold] = Field(default=[], max_length=MAX_HOUSEHOLDS)
    events: list[SituationEvent] = Field(
        min_length=1,
        max_length=MAX_EVENTS,
        description="life events in date order; each runs through the worker's handlers on its own date",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Situation:
        people = [m.id for h in self.households for m in h.members]
        if len(people) + len(self.stored_people) > MAX_PEOPLE:
            raise ValueError(f"at most {MAX_PEOPLE} people (household members and stored people together)")
        if len(set(people)) != len(people):
            raise ValueError("a person is listed twice in households")
        if len({h.id for h in self.households}) != len(self.households):
            raise ValueError("two households share an id")
        if set(people) & set(self.stored_people):
            raise ValueError("a stored person cannot also be described in households")
        dates = [event_date(e.data) for e in self.events]
        if dates != sorted(dates):
            raise ValueError("events must be in date order")
        if dates[-1] > self.date:
            raise ValueError("an event is dated after `date`")
        return self


def event_date(data: BaseModel) -> date:
    """The day a handler applies the law on for this event (as entitlements.matching does)."""
    if isinstance(data, EmploymentLost):
        return data.separated_on
    if isinstance(data, IncomeAssessed):
        return data.assessed_on
    if isinstance(data, MilestoneReached):
        return data.on
    registered: date = data.registered_on  # type: ignore[attr-defined]
    return registered


def json_schema() -> dict[str, Any]:
    schema = Situation.model_json_schema()
    schema["$id"] = f"https://beforeservice.dev/schemas/situation-{VERSION}.json"
    schema["description"] = (
        f"A what-if situation, version {VERSION}: POST /v1/evaluations and `beforeservice rules evaluate`. "
        "Dates are YYYY-MM-DD from 1900-01-01 to tomorrow (Asia/Seoul)."
    )
    return schema


def export_json_schema(directory: Path) -> Path:
    """docs/schemas/situation.json, written by `beforeservice schemas export`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "situation.json"
    path.write_text(json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n")
    return path


MAX_SITUATION_CHARS = 100_000


class _NoAliases(yaml.SafeLoader):
    """YAML without anchors and aliases: a few hundred characters of nested aliases expand into billions of
    nodes for the validator to walk (a "billion laughs"); a situation never needs them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed", self.peek_event().start_mark
            )
        return super().compose_node(parent, index)


@dataclass(frozen=True)
class FieldProblem:
    field: str
    message: str


class UnreadableSituation(ValueError):
    """A situation file or text that is not YAML/JSON or breaks the format; `problems` name each field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


def read_situation(text: str) -> Situation:
    """A situation from YAML or JSON text (the CLI's file, the console's text box), validated."""
    if len(text) > MAX_SITUATION_CHARS:
        raise UnreadableSituation([FieldProblem("situation", f"longer than {MAX_SITUATION_CHARS:,} characters")])
    try:
        raw = yaml.load(text, Loader=_NoAliases)  # a SafeLoader: plain data only
    except yaml.YAMLError as error:
        raise UnreadableSituation([FieldProblem("situation", f"not YAML or JSON: {error}")]) from error
    return situation_from(raw)


def situation_from(raw: Any) -> Situation:
    try:
        return Situation.model_validate(raw)
    except ValidationError as error:
        problems = [
            FieldProblem(".".join(str(part) for part in e["loc"]) or "situation", e["msg"]) for e in error.errors()
        ]
        raise UnreadableSituation(problems) from error


# --- the answer ---------------------------------------------------------------------------------------------


class DeadlineView(BaseModel):
    date: date
    kind: str = Field(description="application_closes, retroactive_window, use_by or entitlement_ends")
    period: str = Field(description="the benefit's period whose last day this is")


class TraceStep(BaseModel):
    when: str
    holds: bool | None = Field(description="null: cannot tell yet")
    reason_ko: str
    reason_en: str
    reference: str


class LawView(BaseModel):
    ko: str
    en: str
    url: str | None


class BenefitDecision(BaseModel):
    benefit_id: str
    name_ko: str
    name_en: str
    agency: str
    category: str
    beneficiary_id: str = Field(description="the person the benefit is for, or the household's id")
    household_id: str
    eligibility: Literal["eligible", "not_eligible", "undetermined"]
    offer_status: str | None = Field(description="what the worker would store: matched, pending_review; null if none")
    amount_krw: int | None
    amount_unit: Literal["KRW", "KRW/month"] | None
    deadlines: list[DeadlineView]
    payment_starts: str | None = Field(description="YYYY-MM, for benefits whose rules declare the months paid")
    missing: list[str] = Field(description="the facts to supply before this can be decided")
    reason_ko: str
    reason_en: str
    legal_basis: list[LawView]
    trace: list[TraceStep]
    decided_on: date
    event: int | None = Field(description="index in `events` of the event that decided it; null: the re-check")


class Change(BaseModel):
    benefit_id: str
    beneficiary_id: str
    status: str = Field(description="retracted: a later event or the re-check withdrew it")
    why: str
    event: int | None


class Evaluation(BaseModel):
    version: str
    date: date
    decisions: list[BenefitDecision]
    changes: list[Change]


class SituationRefused(ValueError):
    """The situation contradicts itself as the registry would refuse it (e.g. a death of someone unknown)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class _Decided:
    event: int | None
    offer: Offer | None = None
    declined: Declined | None = None


def evaluate(
    situation: Situation,
    catalog: Catalog,
    stored: Mapping[str, Household] | None = None,
    stored_open: Sequence[OpenEntitlement] = (),
) -> Evaluation:
    """Run the situation's events through the worker's handlers (in memory) and re-check on its date."""
    by_citizen: dict[str, Household] = dict(stored or {})
    for given in situation.households:
        household = _household(given)
        for member in household.members:
            by_citizen[member] = household
    book = ProfileBook(by_citizen, stored_open)
    stored_keys = {e.id: (e.benefit_id, e.beneficiary_id) for e in stored_open}
    decided: dict[tuple[str, str], _Decided] = {}
    changes: list[Change] = []
    last: LifeEvent | None = None
    for index, given_event in enumerate(situation.events):
        last = _life_event(index, given_event)
        with collecting_declined() as declined:
            try:
                outcome = handle(last, book, catalog)
            except ProfileContradiction as contradiction:
                raise SituationRefused(f"events.{index}", str(contradiction)) from contradiction
        _record(decided, changes, book, outcome, declined, index, stored_keys)
    assert last is not None  # at least one event (Situation)
    _recheck(situation.date, catalog, book, decided, changes, last, stored_keys)
    decisions = [_view(d, catalog, book) for d in decided.values()]
    decisions.sort(key=lambda d: (d.event if d.event is not None else MAX_EVENTS, d.benefit_id, d.beneficiary_id))
    return Evaluation(version=VERSION, date=situation.date, decisions=decisions, changes=changes)


def _household(given: SituationHousehold) -> Household:
    household = Household(
        given.id,
        given.municipality_code,
        given.resident_since,
        facts=given.facts.model_dump(exclude_none=True),
    )
    for m in given.members:
        household.members[m.id] = Citizen(
            m.id, given.id, m.role, m.birth_date, m.birth_order, m.facts.model_dump(exclude_none=True)
        )
    return household


def _life_event(index: int, given: SituationEvent) -> LifeEvent:
    contract = CONTRACTS[given.type]
    subject = None
    if contract.subject_field:
        value: Any = given.data
        for part in contract.subject_field.split("."):
            value = getattr(value, part)
        subject = value
    envelope = CloudEvent(
        id=f"whatif-{index + 1}",
        source=WHATIF_SOURCE,
        specversion="1.0",
        type=given.type,
        subject=subject,
        data=given.data.model_dump(mode="json"),
    )
    return LifeEvent(envelope, given.data)


def _open(offer: Offer) -> OpenEntitlement:
    return OpenEntitlement(
        offer.id, offer.benefit_id, offer.beneficiary_id, offer.household_id, offer.status, offer.amount_krw
    )


def _record(
    decided: dict[tuple[str, str], _Decided],
    changes: list[Change],
    book: ProfileBook,
    outcome: Outcome,
    declined: list[Declined],
    index: int | None,
    stored_keys: Mapping[str, tuple[str, str]],
) -> None:
    """What one event (or the re-check) decided, applied as the store would apply it."""
    by_offer = {d.offer.id: key for key, d in decided.items() if d.offer is not None}
    for change in outcome.status_changes:
        key = by_offer.get(change.entitlement_id) or stored_keys.get(change.entitlement_id)
        if key is not None:  # an offer of this what-if, or a stored one it would change (never written)
            if by_offer.get(change.entitlement_id) == key:
                decided.pop(key, None)
            changes.append(
                Change(benefit_id=key[0], beneficiary_id=key[1], status=change.status, why=change.why, event=index)
            )
    for no in declined:
        key = (no.decision.benefit.id, no.beneficiary_id)
        if key not in decided:
            decided[key] = _Decided(index, declined=no)
    for offer in outcome.offers:
        decided[(offer.benefit_id, offer.beneficiary_id)] = _Decided(index, offer=offer)
        book.open[offer.id] = _open(offer)


def _recheck(
    on: date,
    catalog: Catalog,
    book: ProfileBook,
    decided: dict[tuple[str, str], _Decided],
    changes: list[Change],
    last: LifeEvent,
    stored_keys: Mapping[str, tuple[str, str]],
) -> None:
    """Offers still open, re-checked on `on` as the worker re-checks them after a move or a milestone."""
    outcome = Outcome()
    declined: list[Declined] = []
    for key, entry in list(decided.items()):
        offer = entry.offer
        if offer is None or offer.evaluated_on >= on or offer.status not in (*OPEN, EntitlementStatus.PENDING_REVIEW):
            continue
        household = book.household_of(offer.beneficiary_id) or _household_by_id(book, offer.household_id)
        if household is None:
            continue
        before = len(outcome.status_changes)
        corrected = reconsider(last, catalog, household, book.open[offer.id], on, outcome)
        if corrected is not None:
            outcome.offers.append(corrected)
        elif len(outcome.status_changes) > before:  # retracted: show why, as the engine decides it on `on`
            benefit = catalog.benefits.get(offer.benefit_id)
            subject = household.members.get(offer.beneficiary_id) or next(iter(household.adults()), None)
            if benefit is not None and subject is not None:
                facts = derived_facts(profile_facts(household, subject, on), on)
                declined.append(Declined(key[1], household.id, evaluate_benefit(benefit, facts, on)))
    _record(decided, changes, book, outcome, declined, None, stored_keys)


def _household_by_id(book: ProfileBook, household_id: str) -> Household | None:
    return next(
        (h for e in book.open.values() if (h := book.household_of(e.beneficiary_id)) and h.id == household_id), None
    )


def _view(entry: _Decided, catalog: Catalog, book: ProfileBook) -> BenefitDecision:
    if entry.offer is not None:
        o = entry.offer
        benefit = catalog.benefits[o.benefit_id]
        eligibility, amount, missing, on = o.eligibility, o.amount_krw, o.missing, o.evaluated_on
        reason_ko, reason_en, trace, status = o.reason_ko, o.reason_en, o.trace, o.status.value
        dated, beneficiary, household_id = o.deadlines, o.beneficiary_id, o.household_id
    else:
        assert entry.declined is not None
        d = entry.declined.decision
        benefit, explained = d.benefit, explain(d)
        eligibility, amount, missing, on = d.eligibility, None, d.missing, d.on
        reason_ko, reason_en, trace, status = explained.reason_ko, explained.reason_en, explained.trace, None
        dated, beneficiary, household_id = (), entry.declined.beneficiary_id, entry.declined.household_id
    deadlines = [DeadlineView(date=d.last_day, kind=d.kind.value, period=d.period) for d in dated]
    starts = None
    if eligibility is not Eligibility.NOT_ELIGIBLE:
        starts = payment_starts(benefit, book, beneficiary, on)
    return BenefitDecision(
        benefit_id=benefit.id,
        name_ko=benefit.name["ko"],
        name_en=benefit.name["en"],
        agency=benefit.agency.id,
        category=benefit.category,
        beneficiary_id=beneficiary,
        household_id=household_id,
        eligibility=eligibility.value,
        offer_status=status,
        amount_krw=amount,
        amount_unit=_unit(benefit) if amount is not None else None,
        deadlines=deadlines,
        payment_starts=starts,
        missing=list(missing),
        reason_ko=reason_ko,
        reason_en=reason_en,
        legal_basis=[LawView(ko=law.ko, en=law.en, url=law.url) for law in benefit.legal_basis],
        trace=[TraceStep.model_validate(step) for step in trace],
        decided_on=on,
        event=entry.event,
    )


def _unit(benefit: Benefit) -> Literal["KRW", "KRW/month"]:
    return "KRW/month" if benefit.payment == "monthly" else "KRW"


def payment_starts(benefit: Benefit, book: ProfileBook, beneficiary: str, on: date) -> str | None:
    """The first month paid, where the rules declare the months paid (a `paid_months` period): its start."""
    period = benefit.periods.get(PAID_MONTHS)
    household = book.household_of(beneficiary)
    if period is None or household is None or beneficiary not in household.members:
        return None
    facts = benefit.with_assumptions(derived_facts(profile_facts(household, household.members[beneficiary], on), on))
    start = period.start.evaluate(facts, benefit.params_at(on, facts))
    return None if start is UNKNOWN or not isinstance(start, date) else f"{start:%Y-%m}"


__all__ = ["VERSION", "Evaluation", "Situation", "SituationRefused", "evaluate", "json_schema"]
