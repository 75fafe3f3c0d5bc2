"""From a life event and the household's profile to offers and notifications (pure: no I/O).

Ids are derived from the event's (source, id), so processing the same event twice yields the same rows and
the store's unique keys turn a redelivery into a no-op.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from entitlements.households import Citizen, Household
from entitlements.lifecycle import EntitlementStatus, initial_status
from events.birth import BirthRegistered
from events.contracts import LifeEvent
from rules_engine.catalog import Catalog
from rules_engine.eligibility import Eligibility
from rules_engine.evaluation import Decision, evaluate
from rules_engine.explanation import reason, trace_record

_NAMESPACE = uuid.UUID("4f1c1d7e-5b0e-4c55-9d2b-6a1f0c2e9b31")


def stable_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


@dataclass(frozen=True)
class Offer:
    id: str
    benefit_id: str
    beneficiary_id: str  # the child for child benefits, the household for household benefits
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


@dataclass(frozen=True)
class Outcome:
    household: Household
    offers: list[Offer]
    notifications: list[NotificationIntent]


def household_for_birth(data: BirthRegistered, known: Household | None, new_id: str) -> Household:
    """The parents' household, created if the registry had not told us of it, with the newborn added."""
    household = known or Household(id=new_id)
    household.registered_at(data.municipality_code)
    for parent in data.parents:
        role = "guardian" if parent.role == "guardian" else "parent"
        household.members.setdefault(parent.id, Citizen(parent.id, household.id, role))
    household.members[data.child.id] = Citizen(
        data.child.id, household.id, "child", data.child.birth_date, data.birth_order
    )
    return household


def birth_facts(data: BirthRegistered, household: Household) -> dict[str, Any]:
    return {
        "child.birth_date": data.child.birth_date,
        "child.birth_order": data.birth_order,
        "household.municipality_code": data.municipality_code,
        "household.months_resident": household.months_resident(data.child.birth_date),
        "household.income_percentile": household.income_percentile,
    }


def on_birth_registered(event: LifeEvent, known: Household | None, household_key: str, catalog: Catalog) -> Outcome:
    data = event.data
    assert isinstance(data, BirthRegistered)
    household = household_for_birth(data, known, new_id=f"hh-{household_key}")
    decisions = evaluate(catalog, event.type, birth_facts(data, household), data.registered_on)
    parents = tuple(p.id for p in data.parents)
    offers = [
        _offer(event, d, data.child.id, household, parents)
        for d in decisions
        if d.eligibility is not Eligibility.NOT_ELIGIBLE
    ]
    return Outcome(household, offers, _notifications(event, offers, household.id, category="childbirth_childcare"))


def _offer(event: LifeEvent, d: Decision, child_id: str, household: Household, parents: tuple[str, ...]) -> Offer:
    beneficiary = child_id if d.benefit.recipients == "parents" else household.id
    recipients = parents if d.benefit.recipients == "parents" else tuple(c.id for c in household.adults())
    env = event.envelope
    return Offer(
        id=stable_id(env.source, env.id, d.benefit.id, beneficiary),
        benefit_id=d.benefit.id,
        beneficiary_id=beneficiary,
        household_id=household.id,
        status=initial_status(d.eligibility),
        eligibility=d.eligibility,
        amount_krw=d.amount_krw,
        payment=d.benefit.payment,
        deadline=d.deadline,
        missing=d.missing,
        trace=trace_record(d),
        reason_ko=reason(d, "ko"),
        reason_en=reason(d, "en"),
        evaluated_on=d.on,
        event_source=env.source,
        event_id=env.id,
        recipients=recipients,
    )


def _notifications(event: LifeEvent, offers: list[Offer], household_id: str, category: str) -> list[NotificationIntent]:
    """Only decided offers reach citizens; undetermined ones wait for a caseworker."""
    by_recipient: dict[str, list[str]] = {}
    for offer in offers:
        if offer.status is EntitlementStatus.MATCHED:
            for recipient in offer.recipients:
                by_recipient.setdefault(recipient, []).append(offer.id)
    env = event.envelope
    return [
        NotificationIntent(
            stable_id(env.source, env.id, "notification", recipient),
            recipient,
            household_id,
            env.source,
            env.id,
            env.type,
            category,
            tuple(ids),
        )
        for recipient, ids in by_recipient.items()
    ]
