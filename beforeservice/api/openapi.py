"""The published OpenAPI document: every refusal a route can give, as an RFC 9457 problem; CloudEvents described.

FastAPI documents what a route returns on success and its 422; the refusals that come from dependencies and
middleware (a missing token, a scope, an unknown id, a body too large, a rate limit) it cannot see. They follow
from what the operation is, so they are added here by rule, once for every route:

- secured (a bearer token or an agency key)          → 401, 403
- a path parameter                                   → 404 (unknown, or not the caller's: BOLA answers 404)
- a request body                                     → 400 (not JSON), 413, 415, 422
- parameters                                         → 422
- every 4xx/5xx                                      → `application/problem+json`, the `Problem` schema

Routes still declare what only they know (409 on a decision, 429 on /v1/events) with `responses=`; their
description is kept and their content made a problem.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from beforeservice.api.problems import PROBLEM_JSON
from events.cloudevents import CloudEvent

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
CLOUDEVENT_REF = {"$ref": "#/components/schemas/CloudEvent"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `errors` names each field at fault.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "What kind of problem (a stable URI)"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "What is wrong, for this request"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "Malformed request",
    401: "No credentials, or credentials that are unknown, expired or revoked",
    403: "Authenticated, but not allowed to do this",
    404: "No such resource (or not the caller's)",
    409: "Conflicts with the resource's current state",
    413: "Body too large",
    415: "Unsupported content type",
    422: "A field breaks its contract (each one named in `errors`)",
    429: "Too many requests (see Retry-After)",
    503: "A dependency is unavailable; retry later",
}
# Throttled beyond the rules above: failed logins (a 429 until the throttle lifts).
THROTTLED = {("/v1/caseworkers/token", "post")}
HEADERS = {
    401: {"WWW-Authenticate": {"description": "The scheme to authenticate with", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}}},
}


# Two models share a short name, so FastAPI names their schemas after their modules: the published names stay those
# of the first release, wherever the models live now (a module move must not rename a schema clients generated code
# from; tests/beforeservice/api/test_openapi_snapshot.py pins the whole document).
PUBLISHED_NAMES = {"entitlements__situations__DeadlineView": "beforeservice__situations__DeadlineView"}


def _published_names(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document["components"]["schemas"]
    renamed = {name: target for name, target in PUBLISHED_NAMES.items() if name in schemas}
    if not renamed:
        return document
    document["components"]["schemas"] = {renamed.get(name, name): schema for name, schema in schemas.items()}
    text = json.dumps(document)
    for name, target in renamed.items():
        text = text.replace(f'"#/components/schemas/{name}"', f'"#/components/schemas/{target}"')
    published: dict[str, Any] = json.loads(text)
    return published


def cloudevent_schema() -> dict[str, Any]:
    """The CloudEvents 1.0 envelope as `events.cloudevents.CloudEvent` accepts it (extensions included)."""
    schema = CloudEvent.model_json_schema()
    schema["title"] = "CloudEvent"
    schema["required"] = ["id", "source", "specversion", "type"]
    schema["propertyNames"] = {"pattern": "^[a-z0-9]{1,20}$"}
    schema["additionalProperties"] = {
        "description": "An extension attribute",
        "type": ["string", "integer", "boolean"],
    }
    schema["properties"]["data"] = {"description": "The event's data, per its type's contract (GET /v1/schemas)"}
    return schema


def _problem_response(status: int, declared: dict[str, Any] | None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": (declared or {}).get("description") or DESCRIPTIONS.get(status, "Refused"),
        "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
    }
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def _refusals(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    statuses = {429} if (path, method) in THROTTLED else set()
    if operation.get("security"):
        statuses |= {401, 403}
    if "{" in path:
        statuses.add(404)
    if operation.get("requestBody"):
        statuses |= {400, 413, 415, 422}
    if operation.get("parameters"):
        statuses.add(422)
    return statuses


def describe(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with every operation's refusals declared as problems (a new dict; the input is untouched)."""
    document = copy.deepcopy(document)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["CloudEvent"] = cloudevent_schema()
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            statuses = {int(s) for s in responses if s.isdigit() and int(s) >= 400} | _refusals(path, method, operation)
            for status in sorted(statuses):
                responses[str(status)] = _problem_response(status, responses.get(str(status)))
    # FastAPI's own 422 bodies are never sent (the handler answers a problem): drop their schemas.
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and f"#/components/schemas/{unused}" not in repr(document["paths"]):
            del schemas[unused]
    return _published_names(document)


def install(app: FastAPI) -> None:
    """Serve the described document at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                    servers=app.servers,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
