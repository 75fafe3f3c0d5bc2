"""RFC 9457 problem details: every refusal names the field and says what is wrong with it.

A problem never echoes a resident registration number: whatever an agency sent back in a detail or a field name
is masked first (issue #11, H3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

from events.errors import InvalidEvent
from events.privacy import MASK, RRN_PATTERN, looks_like_rrn

PROBLEM_JSON = "application/problem+json"
_BASE = "https://beforeservice.dev/problems/"


def without_rrn(text: str) -> str:
    return RRN_PATTERN.sub(lambda m: MASK if looks_like_rrn(m[0]) else m[0], text) if looks_like_rrn(text) else text


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return without_rrn(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def problem(
    status: int, title: str, detail: str, kind: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": _BASE + kind, "title": title, "status": status, "detail": without_rrn(detail), **_masked(extra)}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_EVENT_PROBLEMS = {400: ("Invalid event", "invalid-event"), 403: ("Forbidden", "forbidden")}


def invalid_event(error: InvalidEvent) -> JSONResponse:
    title, kind = _EVENT_PROBLEMS.get(error.status, ("Event breaks its contract", "contract-violation"))
    return problem(
        error.status, title, error.reason, kind, errors=[{"field": e.field, "message": e.message} for e in error.errors]
    )
