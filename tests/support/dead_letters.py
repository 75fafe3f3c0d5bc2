"""Reading the dead-letter topic from its start, as an operator would, until the letters a test expects are there."""

from __future__ import annotations

import json
from typing import Any

from kafka import KafkaConsumer

from events.topics import DEAD_LETTERS
from tests.conftest import wait_for


def dead_letters(bootstrap: str, expected: int, timeout: float = 120) -> list[dict[str, Any]]:
    """At least `expected` dead letters (every one read so far), failing after `timeout` seconds or as soon as a
    component the test started exits."""
    consumer = KafkaConsumer(
        DEAD_LETTERS, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=2000, group_id=None
    )
    letters: list[dict[str, Any]] = []
    try:

        def read() -> bool:
            letters.extend(json.loads(m.value) for m in consumer)
            return len(letters) >= expected

        wait_for(read, timeout=timeout, what=f"{expected} dead letters")
    finally:
        consumer.close()
    return letters
