"""Consumer lag per partition, as the worker holding the partition sees it: end offset minus committed offset.

Each worker reports only the partitions assigned to it (a revoked partition's series disappears), so that
`sum by (partition)` over the workers counts each partition once. A partition no worker holds has no series:
the worker-down and lag alerts cover that together (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from beforeservice import metrics

_reported: set[tuple[str, str]] = set()


def lag_of(
    highwaters: Mapping[Any, int], committed: Mapping[Any, int | None], earliest: Mapping[Any, int]
) -> dict[Any, int]:
    """Records not yet committed per partition; a partition without a committed offset lags from its start."""
    lag = {}
    for tp, end in highwaters.items():
        start = committed.get(tp)
        if start is None:
            start = earliest.get(tp, 0)
        lag[tp] = max(0, end - start)
    return lag


async def refresh_consumer_lag(consumer: Any, topic: str) -> int:
    """Set the lag gauges of `topic`'s partitions this worker holds (a Faust consumer); how many it holds."""
    assigned = sorted(tp for tp in consumer.assignment() if tp.topic == topic)
    if not assigned:
        _report({})
        return 0
    highwaters = await consumer.highwaters(*assigned)
    # Faust keeps the offsets it committed (the next offset to read, as Kafka does); it has no public accessor.
    committed: Mapping[Any, int | None] = getattr(consumer, "_committed_offset", {})
    missing = [tp for tp in assigned if committed.get(tp) is None]
    earliest = await consumer.earliest_offsets(*missing) if missing else {}
    lag = lag_of(highwaters, {tp: committed.get(tp) for tp in assigned}, earliest)
    _report({(tp.topic, str(tp.partition)): records for tp, records in lag.items()})
    return len(assigned)


def _report(lag: dict[tuple[str, str], int]) -> None:
    """Set the held partitions' series and drop those of partitions no longer held (no gap for a scrape)."""
    for labels, records in lag.items():
        metrics.CONSUMER_LAG.labels(*labels).set(records)
    for labels in _reported - lag.keys():
        metrics.CONSUMER_LAG.remove(*labels)
    _reported.clear()
    _reported.update(lag)
