"""Structured logs: with LOG_FORMAT=json every process writes one JSON object per line (docs/observability.md).

Fields: time (UTC, RFC 3339), level, logger, message, role (api, worker, dispatcher, scheduler), and when known
event_id, trace_id, span_id, agency (plus what a log call passes as `extra`, from `FIELDS`). `trace_id` is the
current span's when tracing is on, else the trace id a call gives (the event's W3C context, passed on even with
tracing off). Messages go through `mask` (any resident registration number becomes ######-#######) as a last line of
defence; the engine's log calls name ids and counts, never personal data (tests/beforeservice/ops/test_json_logs.py).
"""

from __future__ import annotations

import base64
import json
import logging
import logging.config
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from events.cloudevents import IDENTIFIER_PATTERN
from events.dead_letter import DeadLetter
from events.privacy import mask

# What a log call may add with `extra=` (anything else a library sets on a record is left out of the line).
FIELDS = (
    "event_id",
    "event_type",
    "trace_id",
    "agency",
    "status",
    "reason",
    "where",
    "notification_id",
    "outcome",
    "consumed",
    "processed",
    "duplicates",
    "dead_lettered",
    "notifications",
    "pushed",
)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_REASON_CHARACTERS = 300


def _clean(value: str) -> str:
    return mask(value.encode()).decode("utf-8", "replace")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def __init__(self, role: str = "") -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": _clean(record.getMessage()),
        }
        if self.role:
            line["role"] = self.role
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                line[name] = _clean(value)[:_REASON_CHARACTERS] if isinstance(value, str) else value
        span = trace.get_current_span().get_span_context()
        if span.is_valid and "trace_id" not in line:  # the event's own trace, when the call names it, wins
            line["trace_id"], line["span_id"] = f"{span.trace_id:032x}", f"{span.span_id:016x}"
        if record.exc_info and record.exc_info[0] is not None:
            kind, error, stack = record.exc_info
            # The type and where it was raised; the message only masked and cut (a driver's error may quote values).
            line["exception"] = {
                "type": kind.__name__,
                "message": _clean(str(error))[:_REASON_CHARACTERS],
                "stack": "".join(traceback.format_tb(stack)),
            }
        return json.dumps(line, ensure_ascii=False, default=str)


def logging_config(role: str, log_format: str, level: str = "INFO") -> dict[str, Any]:
    """The dictConfig of a process's logs: one handler on stderr, JSON lines or the text format."""
    formatter: dict[str, Any] = {"()": JsonFormatter, "role": role} if log_format == "json" else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": {"class": "logging.StreamHandler", "formatter": "default", "stream": sys.stderr}},
        "root": {"level": level.upper(), "handlers": ["default"]},
    }


def configure_logging(role: str, log_format: str, level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(role, log_format, level))


def event_id_of(letter: DeadLetter) -> str | None:
    """The id of a dead-lettered event, when its record still says it plainly (`ce_id` header or the JSON's `id`)."""
    for name, value in letter.headers:
        if name.lower() == "ce_id":
            return _identifier(base64.b64decode(value).decode("utf-8", "replace"))
    try:
        raw = json.loads(base64.b64decode(letter.value_b64))
    except ValueError:
        return None
    return _identifier(raw.get("id")) if isinstance(raw, dict) else None


def _identifier(value: object) -> str | None:
    return value if isinstance(value, str) and re.fullmatch(IDENTIFIER_PATTERN, value) else None
