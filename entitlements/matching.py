"""From a life event and the profiles it touches to offers, corrections and notifications (pure: no I/O).

Each handler updates the profile the way the registry says, then asks the rules engine about every benefit
the event triggers for the people concerned, on the event's date, and re-evaluates the offers still open
for them (a move can cost a municipal grant; a first birthday changes an amount). Ids derive from the
event's (source, id), so processing an event twice yields the same rows and the store's keys dedupe them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from entitlements import ids
from entitlements.households import Citizen, Household
from entitlements.lifecycle import OPEN, UNDECIDED, EntitlementStatus, IllegalTransition, allowed, initial_status
from entitlements.profiles import profile_facts
from events import applications, assessment, birth, death, disability, employment, marriage, milestones, moves
from events.contracts import LifeEvent, data_models, partition_key
from rules_engine.catalog import Benefit, Catalog
from rules_engine.conflicts import resolve_conflicts
from rules_engine.deadlines import DatedDeadline, DeadlineKind, of_kind
from rules_engine.eligibility import Eligibility
from rules_engine.evaluation import Decision, evaluate, evaluate_benefit
from rules_engine.explanation import explain, reason
from rules_engine.facts import situation
from rules_engine.worth import yearly_worth

S = EntitlementStatus


class ProfileContradiction(ValueError):
    """The event contradicts what we know (a death of someone unknown): it goes to the dead-letter log."""


@dataclass(frozen=True)
class Offer:
    id: str
    benefit_id: str
    beneficiary_id: str  # the person the benefit is for, or the household for household benefits
    household_id: str
    status: EntitlementStatus
    eligibility: Eligibility
    amount_krw: int | None
    payment: str
    deadline: date | None
    missing: tuple[str, ...]
    trace: list[dict[str, Any]]
    reason_ko: str
    reason_en: str
    evaluated_on: date
    event_source: str
    event_id: str
    recipients: tuple[str, ...]  # citizen ids the offer is addressed to
    category: str
    corrects_id: str | None = None
    deadlines: tuple[DatedDeadline, ...] = ()  # every dated deadline, with its kind (rules_engine/deadlines.py)


@dataclass(frozen=True)
class OpenEntitlement:
    """An entitlement the batch knows of with its status: open ones (matched, pending review, notified, viewed) for
    re-evaluation, and, for a household an agency closes the loop for, the applied, expired, granted and rejected
    ones too (so that the transition table, not a missing row, decides what its event may do)."""

    id: str
    benefit_id: str
    beneficiary_id: str
    household_id: str
    status: EntitlementStatus
    amount_krw: int | None


@dataclass(frozen=True)
class StatusChange:
    entitlement_id: str
    status: EntitlementStatus
    why: str


@dataclass(frozen=True)
class NotificationIntent:
    """One notification per life event per recipient, bundling every offer they can act on."""

    id: str
    recipient_id: str
    household_id: str
    event_source: str
    event_id: str
    event_type: str
    category: str
    offer_ids: tuple[str, ...]


@dataclass
class Outcome:
    households: list[Household] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)
    status_changes: list[StatusChange] = field(default_factory=list)
    notifications: list[NotificationIntent] = field(default_factory=list)
    deceased: list[str] = field(default_factory=list)


class OpenEntitlements(MutableMapping[str, OpenEntitlement]):
    """The batch's entitlements by id, also indexed by household: an event asks only about its own household, so
    looking them up must not cost a pass over the whole batch's (that made a batch quadratic in its size)."""

    def __init__(self, entitlements: Iterable[OpenEntitlement] = ()) -> None:
        self._by_id: dict[str, OpenEntitlement] = {}
        self._by_household: defaultdict[str, dict[str, OpenEntitlement]] = defaultdict(dict)
        for entitlement in entitlements:
            self[entitlement.id] = entitlement

    def __getitem__(self, entitlement_id: str) -> OpenEntitlement:
        return self._by_id[entitlement_id]

    def __setitem__(self, entitlement_id: str, entitlement: OpenEntitlement) -> None:
        known = self._by_id.get(entitlement_id)
        if known is not None and known.household_id != entitlement.household_id:
            del self._by_household[known.household_id][entitlement_id]
        self._by_id[entitlement_id] = entitlement
        self._by_household[entitlement.household_id][entitlement_id] = entitlement

    def __delitem__(self, entitlement_id: str) -> None:
        known = self._by_id.pop(entitlement_id)
        del self._by_household[known.household_id][entitlement_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def of_household(self, household_id: str) -> Iterable[OpenEntitlement]:
        found = self._by_household.get(household_id)
        return found.values() if found is not None else ()


class ProfileBook:
    """The households of the people a batch touches, shared by its events so they see each other's changes."""

    def __init__(self, households: dict[str, Household], open_entitlements: Iterable[OpenEntitlement]) -> None:
        self._by_citizen = households
        self.open = OpenEntitlements(open_entitlements)  # by id (and household), with their status
        # Household benefits offered by this batch's events, by household: twins registered together get one
        # household discount, not one per birth (the first birth's offer is not in `open` until it is stored).
        self.household_offers: defaultdict[str, set[str]] = defaultdict(set)

    def household_of(self, citizen_id: str) -> Household | None:
        return self._by_citizen.get(citizen_id)

    def household_for(self, citizen_id: str, key: str) -> Household:
        return self._by_citizen.get(citizen_id) or Household(id=f"hh-{key}")

    def place(self, household: Household) -> None:
        for member in household.members:
            self._by_citizen[member] = household

    def citizen(self, citizen_id: str, household: Household, role: str = "adult") -> Citizen:
        """The citizen in this household, moving them here (from a household we knew) if needed."""
        previous = self._by_citizen.get(citizen_id)
        found = previous.members.get(citizen_id) if previous else None
        if previous is not None and previous is not household:
            previous.members.pop(citizen_id, None)
        person = found or Citizen(citizen_id, household.id, role)
        person.household_id = household.id
        household.members[citizen_id] = person
        self._by_citizen[citizen_id] = household
        return person

    def open_for(self, household: Household, *beneficiaries: str) -> list[OpenEntitlement]:
        """The household's undecided entitlements (of these beneficiaries, if given)."""
        return [
            e
            for e in self.open.of_household(household.id)
            if e.status in UNDECIDED and (not beneficiaries or e.beneficiary_id in beneficiaries)
        ]

    def of_benefit(self, household: Household, benefit_id: str) -> list[OpenEntitlement]:
        """Every entitlement of the household to this benefit the batch knows of, whatever its status."""
        return [e for e in self.open.of_household(household.id) if e.benefit_id == benefit_id]

    def record(self, changes: Sequence[StatusChange]) -> None:
        """The gate of the batch: if the transition table forbids any of an event's changes, IllegalTransition and
        none is remembered; otherwise all are, so later events of the batch see the new statuses."""
        for change in changes:
            known = self.open.get(change.entitlement_id)
            if known is not None and not allowed(known.status, change.status):
                raise IllegalTransition(
                    f"entitlement {change.entitlement_id} ({known.benefit_id}) cannot go from {known.status} to "
                    f"{change.status}: {change.why}"
                )
        for change in changes:
            known = self.open.get(change.entitlement_id)
            if known is not None:  # (an offer made in this batch keeps the status it was made with)
                self.open[change.entitlement_id] = replace(known, status=change.status)


Handler = Callable[[LifeEvent, ProfileBook, Catalog], Outcome]


@dataclass(frozen=True)
class Declined:
    """A decision the handlers made but offer nothing for (not eligible): only a what-if asks to see these."""

    beneficiary_id: str
    household_id: str
    decision: Decision


# Set only by `collecting_declined` (a what-if evaluation, entitlements.situations): the worker never sets it, so
# its handlers pay one lookup per subject and keep discarding not-eligible decisions.
_DECLINED: ContextVar[list[Declined] | None] = ContextVar("declined_decisions", default=None)


@contextmanager
def collecting_declined() -> Iterator[list[Declined]]:
    """Within the block, the not-eligible decisions of every `handle()` call are appended to the list given."""
    collected: list[Declined] = []
    token = _DECLINED.set(collected)
    try:
        yield collected
    finally:
        _DECLINED.reset(token)


def handle(event: LifeEvent, book: ProfileBook, catalog: Catalog) -> Outcome:
    data = event.data
    for kind, handler in _HANDLERS:
        if isinstance(data, kind):
            outcome = handler(event, book, catalog)
            book.record(outcome.status_changes)  # every status change of the batch passes the lifecycle's gate
            for household in outcome.households:
                book.place(household)
            return outcome
    raise ProfileContradiction(f"no handler for event type '{event.type}'")


# --- handlers, one per life event ------------------------------------------------------------------------


def on_birth(event: LifeEvent, book: ProfileBook, catalog: Catalog) -> Outcome:
    data = event.data
    assert isinstance(data, birth.BirthRegistered)
    # A registration we already processed, sent again under a new id with corrected facts (e.g. birth order).
    correcting = book.household_of(data.child.id)
    known = correcting or next((h for p in data.parents if (h := book.household_of(p.id)) is not None), None)
    household = known or Household(id=f"hh-{partition_key(event)}")
    household.registered_at(data.municipality_code)
    for parent in data.parents:
        book.citizen(parent.id, household, role="guardian" if parent.role == "guardian" else "parent")
    child = book.citizen(data.child.id, household, role="child")
    child.role, child.birth_date, child.birth_order = "child", data.child.birth_date, data.birth_order
    parents = tuple(p.id for p in data.parents)
    outcome = Outcome(households=[household])
    outcome.offers = _offers(event, catalog, household, [child], data.registered_on, parents_of_child=parents)
    if correcting is None:
        outcome.offers = _one_per_household(outcome.offers, household, book)
    if correcting is not None:
        triggered = {b.id for b in catalog.by_trigger.get(event.type, ())}
        earlier = [
            e
            for e in book.open_for(household)
            if e.benefit_id in triggered and e.beneficiary_id in (child.id, household.id)
        ]
        outcome.offers = _supersede(outcome.offers, earlier, outcome)
    outcome.notifications = notification_intents(event, outcome.offers, household.id)
    return outcome


def _one_per_household(fresh: list[Offer], household: Household, book: ProfileBook) -> list[Offer]:
    """A household benefit the household already holds open (or was offered earlier in this batch) is not offered
    again for a second child: KEPCO's newborn discount is one per household, twins or not."""
    offered = book.household_offers[household.id]
    held = {e.benefit_id for e in book.open_for(household, household.id)} | offered
    kept = [o for o in fresh if o.beneficiary_id != household.id or o.benefit_id not in held]
    offered.update(o.benefit_id for o in kept if o.beneficiary_id == household.id)
    return kept


def _supersede(fresh: list[Offer], earlier: list[OpenEntitlement], outcome: Outcome) -> list[Offer]:
    """A corrected event against what the original one offered: new offers, changed amounts, retractions."""
    previous = {(e.benefit_id, e.beneficiary_id): e for e in earlier}
    kept = []
    for offer in fresh:
        old = previous.pop((offer.benefit_id, offer.beneficiary_id), None)
        if old is None:
            kept.append(offer)
        elif old.amount_krw != offer.amount_krw or _undetermined(old.status) != _undetermined(offer.status):
            kept.append(replace(offer, corrects_id=old.id))
            outcome.status_changes.append(StatusChange(old.id, S.RETRACTED, "replaced by a corrected offer"))
    outcome.status_changes += [
        StatusChange(old.id, S.RETRACTED, "not eligible after the correction") for old in previous.values()
    ]
    return kept


def _undetermined(status: EntitlementStatus) -> bool:
    """The decision an offer carries, whatever dispatch has done since: a notified or viewed offer is still the
    eligible decision it was matched as, so a correction compares decisions, not lifecycle steps."""
    return status is S.PENDING_REVIEW


def on_death(event: LifeEvent, book: ProfileBook, catalog: Catalog) -> Outcome:
    data = event.data
    assert isinstance(data, death.DeathRegistered)
    household = book.household_of(data.deceased.id)
    if household is None:
        raise ProfileContradiction(f"death registered for citizen '{data.deceased.id}', unknown to the profile store")
    deceased = household.members[data.deceased.id]
    if deceased.deceased:
        raise ProfileContradiction(f"citizen '{deceased.id}' is already registered as deceased")
    deceased.birth_date = deceased.birth_date or data.deceased.birth_date
    deceased.facts["deceased_on"] = data.deceased.death_date
    kin = [c.id for c in household.adults()]
    if data.informant and data.informant.id not in kin and data.informant.id != deceased.id:
        kin.append(data.informant.id)
    outcome = Outcome(households=[household], deceased=[deceased.id])
    # What the deceased was offered stops: nothing more is sent to them or about them.
    outcome.status_changes = [
        StatusChange(e.id, S.RETRACTED, "the beneficiary died") for e in book.open_for(household, deceased.id)
    ]
    outcome.offers = _offers(event, catalog, household, [deceased], data.registered_on, next_of_kin=tuple(kin))
    outcome.notifications = notification_intents(event, outcome.offers, household.id)
    return outcome


def on_move(event: LifeEvent, book: ProfileBook, catalog: Catalog) -> Outcome:
    data = event.data
    assert isinstance(data, moves.AddressMoved)
    household = book.household_for(data.movers[0], partition_key(event))
    movers = [book.citizen(m, household) for m in data.movers]
    household.registered_at(data.to_municipality_code, since=data.moved_on)
    household.facts["previous_municipality_code"] = data.from_municipality_code
    outcome = Outcome(households=[household])
    outcome.offers = _offers(event, catalog, household, movers, data.registered_on)
    outcome.offers += _reevaluate(event, catalog, book, household, data.registered_on, outcome)
    outcome.notifications = notification_intents(event, outcome.offers, household.id)
    return outcome


def on_marriage(event: LifeEvent, book: ProfileBook, catalog: Catalog) -> Outcome:
    data = event.data
    assert isinstance(data, marriage.MarriageRegistered)
    household = book.household_for(data.spouses[0].id, partition_key(event))
    household.registered_at(data.municipality_code)
    spouses = []
    for spouse in data.spouses:
        person = book.citizen(spouse.id, household, role="spouse")
        person.birth_date = person.birth_date or spouse.birth_date
        person.facts.update(married_on=data.registered_on, is_couple=True)
        spouses.append(person)
    outcome = Outcome(households=[household])
    outcome.offers = _offers(event, catalog, household, spouses, data.registered_on)
    outcome.notifications = notification_intents(event, outcome.offers, household.id)
    return outcome


def on_employment_lost(event: LifeEvent, book: ProfileBook, catalog: Catalog) -> Outcome:
    data = event.data
    assert isinstance(data, employment.EmploymentLost)
    household, person = _subject(book, event, data.person.id, data.person.birth_date)
    household.registered_at(data.municipality_code)
    person.facts.update(
        insured_days=data.insured_days,
        separation_reason=data.separation_reason,
        separated_on=data.separated_on,
        average_daily_wage=data.average_daily_wage,
    )
    return _simple(event, catalog, household, person, data.separated_on)


def on_disability(event: LifeEvent, book: ProfileBook, catalog: Catalog) -> Outcome:
    data = event.data
    assert isinstance(data, disability.DisabilityRegistered)
    household, person = _subject(book, event, data.person.id, data.person.birth_date)
    household.registered_at(data.municipality_code)
    person.facts["disability_severity"] = data.severity
    return _simple(event, catalog, household, person, data.registered_on)


def on_income_assessed(event: LifeEvent, book: ProfileBook, catalog: Catalog) -> Outcome:
    data = event.data
    assert isinstance(data, assessment.IncomeAssessed)
    household, person = _subject(book, event, data.person.id, data.person.birth_date)
    person.facts.update(recognized_income_krw=data.recognized_income_krw, is_couple=data.is_couple)
    household.facts.update(
        median_income_ratio=data.household_median_income_ratio, livelihood_recipient=data.livelihood_recipient
    )
    outcome = _simple(event, catalog, household, person, data.assessed_on, notify=False)
    outcome.offers += _reevaluate(event, catalog, book, household, data.assessed_on, outcome)
    outcome.notifications = notification_intents(event, outcome.offers, household.id)
    return outcome


def on_milestone(event: LifeEvent, book: ProfileBook, catalog: Catalog) -> Outcome:
    data = event.data
    assert isinstance(data, milestones.MilestoneReached)
    household = book.household_of(data.person.id)
    if household is None:
        raise ProfileContradiction(f"milestone for citizen '{data.person.id}', unknown to the profile store")
    person = household.members[data.person.id]
    if person.deceased:
        return Outcome()  # the scheduler raced a death registration: nothing to say, to anyone
    person.birth_date = person.birth_date or data.person.birth_date
    outcome = _simple(event, catalog, household, person, data.on, notify=False)
    # The person's own offers, and the household's (a household discount that ends at a child's third birthday):
    # those are decided for every child of the household, so that one child's birthday ends nothing another keeps.
    outcome.offers += _reevaluate(
        event, catalog, book, household, data.on, outcome, beneficiaries=(person.id, household.id), person=person
    )
    outcome.notifications = notification_intents(event, outcome.offers, household.id)
    return outcome


def on_application(event: LifeEvent, book: ProfileBook, catalog: Catalog) -> Outcome:
    """An agency closes the loop: the household's entitlements to that benefit become applied or granted.

    The agency's word is a fact, so an offer still pending review is applied / granted too (its review closes). An
    entitlement already there is left as it is (the fact told twice, or an application told after the grant); when
    the transition table lets none of them take it (a grant for an offer we retracted or that ended, an application
    for one rejected), IllegalTransition, which the worker dead-letters with the reason."""
    data = event.data
    assert isinstance(data, applications.ApplicationReceived | applications.BenefitGranted)
    household = book.household_of(data.citizen_id)
    if household is None:
        return Outcome()  # the citizen applied without our offer: nothing of ours to close
    target = S.GRANTED if isinstance(data, applications.BenefitGranted) else S.APPLIED
    why = f"{event.type} from {event.envelope.source}"
    # The household's entitlements, whoever applied (a parent for a newborn's benefit); one already there, or granted
    # when told of the application (agencies' events may arrive out of order: a grant implies the application).
    known = [e for e in book.of_benefit(household, data.benefit_id) if e.status not in _ALREADY[target]]
    changes = [StatusChange(e.id, target, why) for e in known if allowed(e.status, target)]
    if not changes and known:
        refused = ", ".join(f"{e.id} is {e.status}" for e in known)
        raise IllegalTransition(f"{event.type} for {data.benefit_id}: {refused}; it cannot become {target}")
    return Outcome(status_changes=changes)


_ALREADY = {S.APPLIED: frozenset({S.APPLIED, S.GRANTED}), S.GRANTED: frozenset({S.GRANTED})}

_HANDLERS: Sequence[tuple[type, Handler]] = (
    (birth.BirthRegistered, on_birth),
    (death.DeathRegistered, on_death),
    (moves.AddressMoved, on_move),
    (marriage.MarriageRegistered, on_marriage),
    (employment.EmploymentLost, on_employment_lost),
    (disability.DisabilityRegistered, on_disability),
    (assessment.IncomeAssessed, on_income_assessed),
    (milestones.MilestoneReached, on_milestone),
    (applications.ApplicationReceived, on_application),
    (applications.BenefitGranted, on_application),
)
# Every life event of the registry (events/contracts.py) has its handler: a contract registered without one stops
# the process at start-up, never halfway through a batch.
_UNHANDLED = [m.__name__ for m in data_models() if not any(issubclass(m, kind) for kind, _ in _HANDLERS)]
if _UNHANDLED:
    raise ImportError(f"no matching handler for {_UNHANDLED}: add one to _HANDLERS (entitlements/matching.py)")


# --- shared steps ----------------------------------------------------------------------------------------


def _subject(book: ProfileBook, event: LifeEvent, citizen_id: str, born: date) -> tuple[Household, Citizen]:
    household = book.household_for(citizen_id, partition_key(event))
    person = book.citizen(citizen_id, household)
    person.birth_date = person.birth_date or born
    return household, person


def _simple(
    event: LifeEvent, catalog: Catalog, household: Household, person: Citizen, on: date, notify: bool = True
) -> Outcome:
    outcome = Outcome(households=[household])
    outcome.offers = _offers(event, catalog, household, [person], on)
    if notify:
        outcome.notifications = notification_intents(event, outcome.offers, household.id)
    return outcome


@dataclass(frozen=True)
class _Addressees:
    """Who in a household an offer can be addressed to, worked out once per subject rather than per benefit."""

    adults: tuple[str, ...]
    guardians: tuple[str, ...]

    @classmethod
    def of(cls, household: Household) -> _Addressees:
        adults = household.adults()
        return cls(tuple(c.id for c in adults), tuple(c.id for c in adults if c.role in ("parent", "guardian")))


def _recipients(
    benefit: Benefit,
    subject: Citizen,
    addressees: _Addressees,
    parents_of_child: tuple[str, ...],
    next_of_kin: tuple[str, ...],
) -> tuple[str, ...]:
    if benefit.recipients == "next_of_kin":
        return next_of_kin
    if benefit.recipients == "household":
        return addressees.adults
    if subject.role == "child" or benefit.recipients == "parents":
        return parents_of_child or addressees.guardians
    return () if subject.deceased else (subject.id,)


def _offers(
    event: LifeEvent,
    catalog: Catalog,
    household: Household,
    subjects: Sequence[Citizen],
    on: date,
    parents_of_child: tuple[str, ...] = (),
    next_of_kin: tuple[str, ...] = (),
) -> list[Offer]:
    """Decisions for every benefit the event triggers: per subject for personal benefits, once for the household."""
    offers: list[Offer] = []
    seen_household_benefits: set[str] = set()
    addressees = _Addressees.of(household)
    declined = _DECLINED.get()
    for subject in subjects:
        decided = evaluate(catalog, event.type, profile_facts(household, subject, on), on)
        decisions, notes = resolve_conflicts(catalog.conflicts, decided)
        for d in decisions:
            household_level = d.benefit.recipients == "household"
            if d.eligibility is Eligibility.NOT_ELIGIBLE:
                if declined is not None:
                    declined.append(Declined(household.id if household_level else subject.id, household.id, d))
                continue
            if household_level and d.benefit.id in seen_household_benefits:
                continue
            seen_household_benefits.add(d.benefit.id)
            beneficiary = household.id if household_level else subject.id
            recipients = _recipients(d.benefit, subject, addressees, parents_of_child, next_of_kin)
            offers.append(_offer(event, d, beneficiary, household.id, recipients, note=notes.get(d.benefit.id)))
    return offers


def _offer(
    event: LifeEvent,
    d: Decision,
    beneficiary: str,
    household_id: str,
    recipients: tuple[str, ...],
    corrects: str | None = None,
    note: dict[str, str] | None = None,
) -> Offer:
    env = event.envelope
    explained = explain(d)
    reason_ko, reason_en = explained.reason_ko, explained.reason_en
    if note:
        reason_ko, reason_en = f"{reason_ko} {note['ko']}", f"{reason_en} {note['en']}"
    return Offer(
        id=ids.offer_id(env.source, env.id, d.benefit.id, beneficiary, correction=bool(corrects)),
        benefit_id=d.benefit.id,
        beneficiary_id=beneficiary,
        household_id=household_id,
        status=initial_status(d.eligibility),
        eligibility=d.eligibility,
        amount_krw=d.amount_krw,
        payment=d.benefit.payment,
        deadline=d.deadline,
        deadlines=d.deadlines,
        missing=d.missing,
        trace=explained.trace,
        reason_ko=reason_ko,
        reason_en=reason_en,
        evaluated_on=d.on,
        event_source=env.source,
        event_id=env.id,
        recipients=recipients,
        category=d.benefit.category,
        corrects_id=corrects,
    )


def _reevaluate(
    event: LifeEvent,
    catalog: Catalog,
    book: ProfileBook,
    household: Household,
    on: date,
    outcome: Outcome,
    beneficiaries: tuple[str, ...] = (),
    person: Citizen | None = None,
) -> list[Offer]:
    """Open offers checked against today's facts: a retraction, or a corrected offer replacing the old one."""
    fresh = {(o.benefit_id, o.beneficiary_id) for o in outcome.offers}
    corrections = [
        reconsider(event, catalog, household, open_offer, on, outcome, person)
        for open_offer in book.open_for(household, *beneficiaries)
        if (open_offer.benefit_id, open_offer.beneficiary_id) not in fresh  # this event decided it anew
    ]
    return [c for c in corrections if c is not None]


def _household_decision(benefit: Benefit, household: Household, person: Citizen, on: date) -> tuple[Citizen, Decision]:
    """A household benefit decided for the person and, failing them, for each other child of the household: the
    first eligible decision (a younger child keeps a newborn discount), else the person's."""
    candidates = [person, *(c for c in household.members.values() if c.role == "child" and c is not person)]
    first: tuple[Citizen, Decision] | None = None
    for subject in candidates:
        d = evaluate_benefit(benefit, situation(profile_facts(household, subject, on), on), on)
        if d.eligibility is Eligibility.ELIGIBLE:
            return subject, d
        first = first or (subject, d)
    assert first is not None
    return first


def _ended(d: Decision, on: date) -> DatedDeadline | None:
    """The entitlement's own end, when it is what makes the decision not eligible any more."""
    ends = of_kind(d.deadlines, DeadlineKind.ENTITLEMENT_ENDS)
    return ends if ends is not None and ends.passed(on) else None


def reconsider(
    event: LifeEvent,
    catalog: Catalog,
    household: Household,
    open_offer: OpenEntitlement,
    on: date,
    outcome: Outcome,
    person: Citizen | None = None,
) -> Offer | None:
    """One open offer against the law and facts of `on`: unchanged (None), retracted or ended, or replaced by a
    correction. A household offer re-checked for a `person` (a milestone) is decided for the household's children."""
    benefit = catalog.benefits.get(open_offer.benefit_id)
    subject = household.members.get(open_offer.beneficiary_id) or next(iter(household.adults()), None)
    if benefit is None or subject is None or not benefit.in_force(on):
        outcome.status_changes.append(StatusChange(open_offer.id, S.RETRACTED, "the benefit is no longer in force"))
        return None
    if person is not None and open_offer.beneficiary_id == household.id:
        subject, d = _household_decision(benefit, household, person, on)
    else:
        d = evaluate_benefit(benefit, situation(profile_facts(household, subject, on), on), on)
    if d.eligibility is Eligibility.NOT_ELIGIBLE:
        ended = _ended(d, on)
        if ended is not None:  # the right ran its course: not withdrawn by us, ended by the law
            why = f"the entitlement ended on {ended.last_day.isoformat()} ({ended.period})"
            outcome.status_changes.append(StatusChange(open_offer.id, S.ENDED, why))
        else:
            outcome.status_changes.append(StatusChange(open_offer.id, S.RETRACTED, reason(d, "en")))
    elif d.eligibility is Eligibility.ELIGIBLE and (
        d.amount_krw != open_offer.amount_krw or open_offer.status is S.PENDING_REVIEW
    ):
        addressees = _Addressees.of(household)
        recipients = _recipients(benefit, subject, addressees, addressees.guardians, ())
        outcome.status_changes.append(StatusChange(open_offer.id, S.RETRACTED, "replaced by a corrected offer"))
        return _offer(event, d, open_offer.beneficiary_id, household.id, recipients, open_offer.id)
    return None


def notification_intents(event: LifeEvent, offers: list[Offer], household_id: str) -> list[NotificationIntent]:
    """Only decided offers reach citizens; undetermined ones wait for a caseworker."""
    by_recipient: dict[str, list[Offer]] = {}
    for offer in sorted(offers, key=_worth, reverse=True):  # the most valuable first; information last
        if offer.status is S.MATCHED:
            for recipient in offer.recipients:
                by_recipient.setdefault(recipient, []).append(offer)
    env = event.envelope
    return [
        NotificationIntent(
            ids.notification_id(env.source, env.id, recipient),
            recipient,
            household_id,
            env.source,
            env.id,
            env.type,
            _category(bundle),
            tuple(o.id for o in bundle),
        )
        for recipient, bundle in by_recipient.items()
    ]


def _worth(offer: Offer) -> int:
    return yearly_worth(offer.amount_krw, offer.payment)


def _category(bundle: list[Offer]) -> str:
    """The consent category of a bundle: the one most of its offers belong to (ties: the first offer's)."""
    counts: dict[str, int] = {}
    for offer in bundle:
        counts[offer.category] = counts.get(offer.category, 0) + 1
    return max(counts, key=lambda c: (counts[c], -[o.category for o in bundle].index(c)))


__all__ = [
    "OPEN",
    "Declined",
    "NotificationIntent",
    "Offer",
    "OpenEntitlement",
    "Outcome",
    "ProfileBook",
    "collecting_declined",
    "handle",
    "notification_intents",
]
