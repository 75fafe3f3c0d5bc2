"""Published contracts: the JSON Schema of each event type's data, and an AsyncAPI 3 document of the topics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from beforeservice.api.deps import SettingsDep
from events.applications import APPLICATION_RECEIVED_SUFFIX, BENEFIT_GRANTED_SUFFIX
from events.contracts import CONTRACTS, contract_for
from events.dead_letter import DeadLetter
from events.topics import DEAD_LETTERS, LIFE_EVENTS

router = APIRouter(tags=["contracts"])
SCHEMA_BASE = "https://beforeservice.dev/schemas/"
# The closing-the-loop types are one per agency; these stand for the family in listings.
LOOP_EXAMPLES = (f"kr.go.agency{APPLICATION_RECEIVED_SUFFIX}", f"kr.go.agency{BENEFIT_GRANTED_SUFFIX}")


class SchemaIndex(BaseModel):
    types: list[str]
    loop_types: list[str]


def data_schema(event_type: str) -> dict[str, Any] | None:
    contract = contract_for(event_type)
    if contract is None:
        return None
    schema = contract.data_model.model_json_schema()
    schema["$id"] = f"{SCHEMA_BASE}{event_type}.json"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["description"] = f"data of a CloudEvents 1.0 event of type {event_type}"
    return schema


@router.get("/v1/schemas", response_model=SchemaIndex)
def list_schemas() -> SchemaIndex:
    """Event types with a published data schema (loop types: `kr.go.<agency>.application.received|benefit.granted`)."""
    return SchemaIndex(
        types=sorted(CONTRACTS),
        loop_types=["kr.go.<agency>" + s for s in (APPLICATION_RECEIVED_SUFFIX, BENEFIT_GRANTED_SUFFIX)],
    )


@router.get(
    "/v1/schemas/{event_type}",
    responses={200: {"content": {"application/schema+json": {}}}, 404: {"description": "Unknown event type"}},
)
def get_schema(event_type: str) -> JSONResponse:
    """The JSON Schema (2020-12) of the `data` of events of this type."""
    schema = data_schema(event_type)
    if schema is None:
        raise HTTPException(404, f"no contract for event type '{event_type}'")
    return JSONResponse(schema, media_type="application/schema+json")


@router.get("/v1/asyncapi.json")
def asyncapi(settings: SettingsDep) -> JSONResponse:
    """An AsyncAPI 3.0 document of the Kafka topics: `life-events` and `life-events.dead-letter`."""
    return JSONResponse(asyncapi_document(settings.bootstrap_servers))


def _hoisted(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """A model's schema with its nested definitions moved into components (refs must resolve from the root)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    return schema


def asyncapi_document(bootstrap_servers: str) -> dict[str, Any]:
    components: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    contracts = [*CONTRACTS.values(), *(c for t in LOOP_EXAMPLES if (c := contract_for(t)) is not None)]
    for contract in contracts:
        name = contract.event_type.replace(".", "_")
        components[name] = _hoisted(contract.data_model, components)
        messages[name] = {
            "name": contract.event_type,
            "title": contract.event_type,
            "summary": f"CloudEvents 1.0, structured mode; type {contract.event_type}",
            "contentType": "application/cloudevents+json",
            "payload": {
                "type": "object",
                "required": ["specversion", "id", "source", "type", "data"],
                "properties": {
                    "specversion": {"const": "1.0"},
                    "id": {"type": "string", "maxLength": 256},
                    "source": {"type": "string", "pattern": contract.source_pattern},
                    "type": {"type": "string", "const": contract.event_type}
                    if contract.event_type in CONTRACTS
                    else {
                        "type": "string",
                        "pattern": r"^kr\.go\.[a-z0-9]+\.(application\.received|benefit\.granted)$",
                    },
                    "time": {"type": "string", "format": "date-time"},
                    "subject": {"type": "string"},
                    "partitionkey": {"type": "string"},
                    "data": {"$ref": f"#/components/schemas/{name}"},
                },
            },
            "bindings": {"kafka": {"key": {"type": "string", "description": "household partition key"}}},
        }
    components["DeadLetter"] = _hoisted(DeadLetter, components)
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "A refused record",
        "summary": "The original bytes of a record the worker could not accept, with the reason",
        "contentType": "application/json",
        "payload": {"$ref": "#/components/schemas/DeadLetter"},
    }
    life = {name: {"$ref": f"#/components/messages/{name}"} for name in messages if name != "DeadLetter"}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Before Service life events",
            "version": "0.1.0",
            "description": "Agencies emit life events; the engine matches people to benefits. "
            "Agencies without Kafka access post the same events to POST /v1/events.",
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {"kafka": {"host": bootstrap_servers, "protocol": "kafka"}},
        "channels": {
            "lifeEvents": {"address": LIFE_EVENTS, "messages": life},
            "deadLetters": {
                "address": DEAD_LETTERS,
                "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            },
        },
        "operations": {
            "emitLifeEvent": {
                "action": "send",
                "summary": "An agency emits a life event",
                "channel": {"$ref": "#/channels/lifeEvents"},
            },
            "consumeLifeEvents": {
                "action": "receive",
                "summary": "The worker matches people to benefits",
                "channel": {"$ref": "#/channels/lifeEvents"},
            },
            "emitDeadLetter": {
                "action": "send",
                "summary": "The worker sets a refused record aside with the reason",
                "channel": {"$ref": "#/channels/deadLetters"},
            },
        },
        "components": {"schemas": components, "messages": messages},
    }
