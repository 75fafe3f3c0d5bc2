"""1% poison events: every one dead-lettered with its reason; good events flow at about the same rate."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kafka import KafkaConsumer
from kafka.errors import MessageSizeTooLargeError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from entitlements.persistence.tables import ProcessedEventRow
from events.topics import DEAD_LETTERS, LIFE_EVENTS
from tests.conftest import Stack
from tests.faults import harness

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]
TEN_MB = 10 * 1024 * 1024


def poisons(count: int, template: bytes) -> list[tuple[str, bytes, list[tuple[str, bytes]], str]]:
    """(kind, value, headers, what the dead letter's reason must say): every kind in turn, one 10 MB body."""
    valid: dict[str, Any] = json.loads(template)
    kinds = [
        ("bad JSON", lambda i: (b'{"specversion": "1.0", "id": "%d"' % i, []), "not valid JSON"),
        ("missing source", lambda i: (_dump({k: v for k, v in valid.items() if k != "source"}, i), []), "'source'"),
        ("wrong specversion", lambda i: (_dump({**valid, "specversion": "0.3"}, i), []), "'specversion'"),
        ("control characters", lambda i: (_dump({**valid, "id": f"evil\x07{i}"}, None), []), "'id'"),
        (
            "schema violation",
            lambda i: (_dump({**valid, "data": {**valid["data"], "birth_order": 0}}, i), []),
            "'data.birth_order'",
        ),
        (
            "binary mode without ce_type",
            lambda i: (
                json.dumps(valid["data"]).encode(),
                [("ce_specversion", b"1.0"), ("ce_id", f"x{i}".encode()), ("ce_source", valid["source"].encode())],
            ),
            "'type'",
        ),
    ]
    out: list[tuple[str, bytes, list[tuple[str, bytes]], str]] = [
        ("10 MB body", _dump({**valid, "padding": "x" * TEN_MB}, 0), [], "bytes")
    ]
    for i in range(count - 1):
        kind, make, needle = kinds[i % len(kinds)]
        value, headers = make(i)
        out.append((kind, value, headers, needle))
    return out


def _dump(event: dict[str, Any], i: int | None) -> bytes:
    return json.dumps(event if i is None else {**event, "id": f"poison-{i}"}).encode()


def good_rate(sessions: sessionmaker[Session], stream: list[harness.Birth]) -> float:
    """Good events per second, from the commit times of their batches (the worker's own clock)."""
    ids = [b.event_id for b in stream]
    with sessions() as session:
        first, last = session.execute(
            select(func.min(ProcessedEventRow.processed_at), func.max(ProcessedEventRow.processed_at)).where(
                ProcessedEventRow.event_id.in_(ids)
            )
        ).one()
    return len(ids) / max((last - first).total_seconds(), 1e-3)


def dead_letters(bootstrap: str, expected: int) -> dict[tuple[int, int], dict[str, Any]]:
    consumer = KafkaConsumer(
        DEAD_LETTERS,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=2000,
        group_id=None,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    letters: dict[tuple[int, int], dict[str, Any]] = {}
    try:

        def read() -> bool:
            for m in consumer:
                letter = json.loads(m.value)
                letters[(letter["partition"], letter["offset"])] = letter
            return len(letters) >= expected

        harness.wait_for(read, timeout=600, what=f"{expected} dead letters")
    finally:
        consumer.close()
    return letters


def test_one_percent_poison_is_dead_lettered_and_good_events_flow(stack: Stack) -> None:
    broker, sessions, server, engine_env, tmp_path = stack.broker, stack.sessions, stack.fcm, stack.env, stack.tmp_path
    offers_of = harness.expected_offers()
    half = max(harness.EVENTS // 2, 1000)
    warm, clean, mixed = (harness.births(n, seed=s, tag="p") for n, s in ((200, 7), (half, 8), (half, 9)))
    harness.register_mothers(sessions, warm + clean + mixed)
    worker = harness.Worker(harness.fault_env(engine_env), tmp_path / "logs")
    worker.start()
    try:
        harness.produce(broker.bootstrap_servers, warm)  # the worker is up and has its partitions
        harness.wait_for(lambda: harness.processed_count(sessions) >= len(warm), timeout=300, what="warm-up")

        harness.produce(broker.bootstrap_servers, clean)
        harness.wait_for(lambda: harness.processed_count(sessions) >= len(warm) + half, timeout=1800, what="clean")
        clean_rate = good_rate(sessions, clean)

        bad = poisons(max(len(mixed) // 100, 7), mixed[0].value)
        out = harness.producer(broker.bootstrap_servers, max_request_size=TEN_MB + 1024 * 1024)
        default_refused = False
        try:  # what an agency's default producer (max_request_size 1 MB) does with a 10 MB body
            harness.producer(broker.bootstrap_servers).send(LIFE_EVENTS, value=bad[0][1]).get(30)
        except MessageSizeTooLargeError:
            default_refused = True
        every = len(mixed) // len(bad)
        sent: dict[tuple[int, int], tuple[str, str]] = {}
        futures = []
        for i, birth in enumerate(mixed):
            if i % every == 0 and i // every < len(bad):
                kind, value, headers, needle = bad[i // every]
                futures.append((kind, needle, out.send(LIFE_EVENTS, key=b"poison", value=value, headers=headers)))
            out.send(LIFE_EVENTS, key=birth.key, value=birth.value)
        out.flush(timeout=120)
        for kind, needle, future in futures:
            meta = future.get(60)
            sent[(meta.partition, meta.offset)] = (kind, needle)
        out.close()
        harness.wait_until_done(sessions, len(warm) + 2 * half)
        mixed_rate = good_rate(sessions, mixed)
        letters = dead_letters(broker.bootstrap_servers, len(sent))
    finally:
        worker.stop()
        print(f"--- worker log ---\n{worker.tail()}")

    missing = [kind for at, (kind, _) in sent.items() if at not in letters]
    wrong = [
        (kind, letters[at]["reason"][:120])
        for at, (kind, needle) in sent.items()
        if needle not in letters.get(at, {}).get("reason", needle)
    ]
    result = harness.ledger(sessions, warm + clean + mixed, offers_of, server)
    result.figures.update(
        {
            "poison_sent": len(sent),
            "dead_letters": len(letters),
            "poison_missing_from_dlq": len(missing),
            "poison_with_wrong_reason": len(wrong),
            "good_events_dead_lettered": len(set(letters) - set(sent)),
            "good_rate_clean_per_s": round(clean_rate, 1),
            "good_rate_with_1pct_poison_per_s": round(mixed_rate, 1),
            "rate_ratio": round(mixed_rate / clean_rate, 3),
            "default_producer_refuses_10MB": int(default_refused),
        }
    )
    result.print(f"1% poison among {len(mixed):,} good events (after {len(clean):,} clean ones)")
    print("reasons:", sorted({(kind, letters[at]["reason"][:90]) for at, (kind, _) in sent.items() if at in letters}))
    assert not missing and not wrong, (missing, wrong)
    assert set(letters) == set(sent), "only the poison is dead-lettered"
    result.assert_zeros()
