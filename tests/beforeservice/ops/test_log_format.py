"""The JSON log line (beforeservice/logs.py): declared fields only, RRNs masked, the event's trace kept."""

from __future__ import annotations

import json
import logging

from beforeservice.logs import JsonFormatter


def test_a_json_log_line_masks_rrns_and_keeps_the_events_trace() -> None:
    record = logging.LogRecord("beforeservice.x", logging.INFO, __file__, 1, "saw %s", ("900215-2345678",), None)
    record.__dict__.update(event_id="e-1", trace_id="4bf92f3577b34da6a3ce929d0e0e4736", agency="mois", other="x")
    line = json.loads(JsonFormatter(role="api").format(record))
    assert line["message"] == "saw ######-#######"
    assert {k: line[k] for k in ("role", "event_id", "trace_id", "agency", "level")} == {
        "role": "api",
        "event_id": "e-1",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "agency": "mois",
        "level": "info",
    }
    assert "other" not in line  # only the declared fields
