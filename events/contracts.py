"""Which event types we accept, with the data contract of each; validation of a whole life event."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from events import applications, assessment, birth, death, disability, employment, marriage, milestones, moves
from events.birth import BIRTH_REGISTERED, BirthRegistered
from events.cloudevents import CloudEvent, invalid_from_validation
from events.errors import FieldError, InvalidEvent


@dataclass(frozen=True)
class Contract:
    event_type: str
    data_model: type[BaseModel]
    source_pattern: str
    subject_field: str | None  # dotted path in data that `subject` must equal, if any


CONTRACTS: dict[str, Contract] = {
    c.event_type: c
    for c in (
        Contract(BIRTH_REGISTERED, BirthRegistered, birth.SOURCE_PATTERN, "child.id"),
        Contract(death.DEATH_REGISTERED, death.DeathRegistered, death.SOURCE_PATTERN, "deceased.id"),
        Contract(moves.ADDRESS_MOVED, moves.AddressMoved, moves.SOURCE_PATTERN, None),
        Contract(marriage.MARRIAGE_REGISTERED, marriage.MarriageRegistered, marriage.SOURCE_PATTERN, None),
        Contract(employment.EMPLOYMENT_LOST, employment.EmploymentLost, employment.SOURCE_PATTERN, "person.id"),
        Contract(
            disability.DISABILITY_REGISTERED, disability.DisabilityRegistered, disability.SOURCE_PATTERN, "person.id"
        ),
        Contract(assessment.INCOME_ASSESSED, assessment.IncomeAssessed, assessment.SOURCE_PATTERN, "person.id"),
        Contract(milestones.MILESTONE_REACHED, milestones.MilestoneReached, milestones.SOURCE_PATTERN, "person.id"),
    )
}
# Closing the loop: every agency emits these for its own benefits, under its own type prefix.
LOOP_CONTRACTS: dict[str, type[BaseModel]] = {
    applications.APPLICATION_RECEIVED_SUFFIX: applications.ApplicationReceived,
    applications.BENEFIT_GRANTED_SUFFIX: applications.BenefitGranted,
}


def contract_for(event_type: str) -> Contract | None:
    if event_type in CONTRACTS:
        return CONTRACTS[event_type]
    if re.fullmatch(applications.TYPE_PATTERN, event_type):
        suffix = next(s for s in LOOP_CONTRACTS if event_type.endswith(s))
        return Contract(event_type, LOOP_CONTRACTS[suffix], applications.SOURCE_PATTERN, "citizen_id")
    return None


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

    The CloudEvents partitioning extension wins when the agency sets it; otherwise the first parent's id
    stands for the household (the registry files a newborn under the mother's or father's household).
    """
    if event.envelope.partitionkey:
        return event.envelope.partitionkey
    data = event.data
    if isinstance(data, BirthRegistered):
        return data.parents[0].id
    if isinstance(data, moves.AddressMoved):
        return data.movers[0]
    if isinstance(data, marriage.MarriageRegistered):
        return data.spouses[0].id
    return event.envelope.subject or event.envelope.id


def export_json_schemas(directory: Path) -> list[Path]:
    """Write the JSON Schema of every event's data, named after its type, for agencies to validate against."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    loop = [
        Contract(f"kr.go.agency{suffix}", model, applications.SOURCE_PATTERN, "citizen_id")
        for suffix, model in LOOP_CONTRACTS.items()
    ]
    for contract in [*CONTRACTS.values(), *loop]:
        schema = contract.data_model.model_json_schema()
        schema["$id"] = f"https://beforeservice.dev/schemas/{contract.event_type}.json"
        schema["description"] = f"data of a CloudEvents 1.0 event of type {contract.event_type}"
        path = directory / f"{contract.event_type}.json"
        path.write_text(json.dumps(schema, ensure_ascii=False, indent=2) + "\n")
        written.append(path)
    return written
