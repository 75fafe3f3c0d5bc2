"""RFC 9457 problem details: every refusal names the field and says what is wrong with it."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from events.errors import InvalidEvent

PROBLEM_JSON = "application/problem+json"
_BASE = "https://beforeservice.dev/problems/"


def problem(status: int, title: str, detail: str, kind: str, **extra: Any) -> JSONResponse:
    body = {"type": _BASE + kind, "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def invalid_event(error: InvalidEvent) -> JSONResponse:
    return problem(
        error.status,
        "Invalid event" if error.status == 400 else "Event breaks its contract",
        error.reason,
        "invalid-event" if error.status == 400 else "contract-violation",
        errors=[{"field": e.field, "message": e.message} for e in error.errors],
    )
