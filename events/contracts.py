"""The registry of life events: each event type with its data contract, who it concerns and whose household it is
about; validation of a whole life event.

One place to register a new life event (docs/life-events.md, "Adding a life event"): its `Contract` in `CONTRACTS`.
The rest of the system reads this registry: validation and the API's schemas, the Kafka partition key, the batch's
`people_of`, the notification templates (`{name}.{lang}.j2`, notifiers/rendering.py) and the matching handlers
(entitlements/matching.py refuses to load without a handler for every registered contract).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from events import applications, assessment, birth, death, disability, employment, marriage, milestones, moves
from events.cloudevents import CloudEvent, invalid_from_validation
from events.errors import FieldError, InvalidEvent

People = Callable[[Any], list[str]]  # the ids in an event's data


@dataclass(frozen=True)
class Contract:
    event_type: str
    data_model: type[BaseModel]
    source_pattern: str
    subject_field: str | None  # dotted path in data that `subject` must equal, if any
    people: People  # everyone whose profile the event reads or changes
    # The person whose household the event is about (the partition key without the CloudEvents extension);
    # None: the event's subject.
    household_of: Callable[[Any], str] | None = None
    name: str = ""  # short name, e.g. birth_registered: its notification templates are `{name}.{lang}.j2`


def _the_person(data: Any) -> list[str]:
    return [data.person.id]


def _the_citizen(data: Any) -> list[str]:
    return [data.citizen_id]


CONTRACTS: dict[str, Contract] = {
    c.event_type: c
    for c in (
        Contract(
            birth.BIRTH_REGISTERED,
            birth.BirthRegistered,
            birth.SOURCE_PATTERN,
            "child.id",
            people=lambda d: [p.id for p in d.parents] + [d.child.id],
            # The registry files a newborn under the mother's or father's household.
            household_of=lambda d: d.parents[0].id,
            name="birth_registered",
        ),
        Contract(
            death.DEATH_REGISTERED,
            death.DeathRegistered,
            death.SOURCE_PATTERN,
            "deceased.id",
            people=lambda d: [d.deceased.id] + ([d.informant.id] if d.informant else []),
            name="death_registered",
        ),
        Contract(
            moves.ADDRESS_MOVED,
            moves.AddressMoved,
            moves.SOURCE_PATTERN,
            None,
            people=lambda d: list(d.movers),
            household_of=lambda d: d.movers[0],
            name="address_moved",
        ),
        Contract(
            marriage.MARRIAGE_REGISTERED,
            marriage.MarriageRegistered,
            marriage.SOURCE_PATTERN,
            None,
            people=lambda d: [s.id for s in d.spouses],
            household_of=lambda d: d.spouses[0].id,
            name="marriage_registered",
        ),
        Contract(
            employment.EMPLOYMENT_LOST,
            employment.EmploymentLost,
            employment.SOURCE_PATTERN,
            "person.id",
            _the_person,
            name="employment_lost",
        ),
        Contract(
            disability.DISABILITY_REGISTERED,
            disability.DisabilityRegistered,
            disability.SOURCE_PATTERN,
            "person.id",
            _the_person,
            name="disability_registered",
        ),
        Contract(
            assessment.INCOME_ASSESSED,
            assessment.IncomeAssessed,
            assessment.SOURCE_PATTERN,
            "person.id",
            _the_person,
            name="income_assessed",
        ),
        Contract(
            milestones.MILESTONE_REACHED,
            milestones.MilestoneReached,
            milestones.SOURCE_PATTERN,
            "person.id",
            _the_person,
            name="milestone_reached",
        ),
    )
}
# Closing the loop: every agency emits these for its own benefits, under its own type prefix.
LOOP_CONTRACTS: dict[str, type[BaseModel]] = {
    applications.APPLICATION_RECEIVED_SUFFIX: applications.ApplicationReceived,
    applications.BENEFIT_GRANTED_SUFFIX: applications.BenefitGranted,
}


def loop_contract(event_type: str, model: type[BaseModel]) -> Contract:
    return Contract(event_type, model, applications.SOURCE_PATTERN, "citizen_id", _the_citizen)


def contract_for(event_type: str) -> Contract | None:
    if event_type in CONTRACTS:
        return CONTRACTS[event_type]
    if re.fullmatch(applications.TYPE_PATTERN, event_type):
        suffix = next(s for s in LOOP_CONTRACTS if event_type.endswith(s))
        return loop_contract(event_type, LOOP_CONTRACTS[suffix])
    return None


def data_models() -> list[type[BaseModel]]:
    """The data model of every registered event, the closing-the-loop ones included."""
    return [c.data_model for c in CONTRACTS.values()] + list(LOOP_CONTRACTS.values())


@dataclass(frozen=True)
class LifeEvent:
    """A CloudEvent whose data satisfies its contract."""

    envelope: CloudEvent
    data: BaseModel

    @property
    def type(self) -> str:
        return self.envelope.type


def validate(envelope: CloudEvent) -> LifeEvent:
    contract = contract_for(envelope.type)
    if contract is None:
        supported = [*sorted(CONTRACTS), "kr.go.<agency>.application.received", "kr.go.<agency>.benefit.granted"]
        raise InvalidEvent(
            f"unsupported event type '{envelope.type}'; supported: {', '.join(supported)}",
            [FieldError("type", "unsupported event type")],
            status=422,
        )
    if not re.fullmatch(contract.source_pattern, envelope.source):  # fullmatch: "$" would admit a final "\n"
        raise InvalidEvent(
            f"invalid field 'source': '{envelope.source}' does not match {contract.source_pattern}",
            [FieldError("source", f"must match {contract.source_pattern}")],
            status=422,
        )
    if not isinstance(envelope.data, dict):
        raise InvalidEvent(
            "invalid field 'data': must be a JSON object", [FieldError("data", "not an object")], status=422
        )
    try:
        data = contract.data_model.model_validate(envelope.data)
    except ValidationError as err:
        invalid = invalid_from_validation(err, prefix="data.")
        raise InvalidEvent(invalid.reason, invalid.errors, status=422) from err
    if contract.subject_field and envelope.subject is not None:
        expected = _dig(data.model_dump(mode="json"), contract.subject_field)
        if envelope.subject != expected:
            raise InvalidEvent(
                f"invalid field 'subject': must equal data.{contract.subject_field}",
                [FieldError("subject", f"must equal data.{contract.subject_field}")],
                status=422,
            )
    return LifeEvent(envelope, data)


def _dig(value: Any, path: str) -> Any:
    for part in path.split("."):
        value = value[part]
    return value


def partition_key(event: LifeEvent) -> str:
    """Events of one household share a key, hence a partition, hence an order.

    The CloudEvents partitioning extension wins when the agency sets it; otherwise the person the contract names
    stands for the household (for a birth, the first parent), else the subject.
    """
    if event.envelope.partitionkey:
        return event.envelope.partitionkey
    contract = contract_for(event.type)
    if contract is not None and contract.household_of is not None:
        return contract.household_of(event.data)
    return event.envelope.subject or event.envelope.id


def people_of(event: LifeEvent) -> list[str]:
    """Everyone whose profile the event reads or changes."""
    contract = contract_for(event.type)
    return contract.people(event.data) if contract is not None else []


def export_json_schemas(directory: Path) -> list[Path]:
    """Write the JSON Schema of every event's data, named after its type, for agencies to validate against."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    loop = [loop_contract(f"kr.go.agency{suffix}", model) for suffix, model in LOOP_CONTRACTS.items()]
    for contract in [*CONTRACTS.values(), *loop]:
        schema = contract.data_model.model_json_schema()
        schema["$id"] = f"https://beforeservice.dev/schemas/{contract.event_type}.json"
        schema["description"] = f"data of a CloudEvents 1.0 event of type {contract.event_type}"
        path = directory / f"{contract.event_type}.json"
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n")
        written.append(path)
    return written
