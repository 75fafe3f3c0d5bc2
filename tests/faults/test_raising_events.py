"""An event whose processing raises no longer halts the pipeline: it is isolated, dead-lettered with the reason,
and every event around it is processed (issue 11, C2).

The trigger is a rule author's mistake, the kind a catalog edit can bring in at any time: a benefit whose amount
divides by `child.birth_order - 7`, valid at load, raising ZeroDivisionError for a seventh child only. It lives
in a copy of the shipped catalog (CATALOG_DIR), so the events stay valid under their contract and every other
birth is matched exactly as with the shipped catalog (its condition keeps it away from them).
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer
from sqlalchemy.engine import make_url

from entitlements import CATALOG_DIR
from events.topics import DEAD_LETTERS, LIFE_EVENTS
from tests.conftest import Stack
from tests.faults import harness
from tests.faults.test_database_outage import CuttableProxy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]
GOOD_EVENTS = 400
RAISING_RULE = """\
id: large_family_grant
name: {ko: 다자녀 출산 지원금, en: Large family birth grant}
summary: {ko: "일곱째 이후 출생아 지원금", en: "A grant for a seventh or later child"}
agency: mohw
category: childbirth_childcare
triggers: [kr.go.mois.birth.registered]
recipients: parents
payment: once
effective: {from: 2022-01-01}
legal_basis: [{ko: 시험용 규칙, en: a rule made for this test, url: "https://www.law.go.kr/"}]
source: https://www.law.go.kr/
unconfirmed: []
apply: {url: "https://www.gov.kr/", how: {ko: 주민센터에서 신청, en: Apply at the community centre}}
parameters:
  pool:
    description: {ko: 총액, en: the pool shared by the children after the sixth}
    reference: test
    values: {2022-01-01: 6000000}
conditions:
  - when: child.birth_order >= 7
    reason: {ko: 일곱째 이후 출생아, en: a seventh or later child}
    reference: test
amount: params.pool // (child.birth_order - 7)
"""


def catalog_with_a_raising_rule(directory: Path) -> Path:
    shutil.copytree(CATALOG_DIR, directory)
    (directory / "birth" / "large_family_grant.yaml").write_text(RAISING_RULE)
    return directory


def seventh_child(birth: harness.Birth, n: int) -> tuple[bytes, bytes]:
    event: dict[str, Any] = json.loads(birth.value)
    event["id"] = f"seventh-{n}"
    event["data"]["birth_order"] = 7
    for person in [event["data"]["child"], *event["data"]["parents"]]:
        person["id"] = f"{person['id']}-seventh"
    event["subject"] = event["data"]["child"]["id"]
    return event["data"]["parents"][0]["id"].encode(), json.dumps(event).encode()


def born_in_9999(birth: harness.Birth) -> tuple[bytes, bytes]:
    """The reviewer's original attack: accepted, it made the rules overflow and the worker retry forever."""
    event: dict[str, Any] = json.loads(birth.value)
    event["id"] = "born-in-9999"
    event["data"]["child"]["birth_date"] = "9999-12-01"
    event["data"]["registered_on"] = "9999-12-05"
    return birth.key, json.dumps(event).encode()


def read_dead_letters(bootstrap: str, expected: int) -> dict[tuple[int, int], dict[str, Any]]:
    consumer = KafkaConsumer(
        DEAD_LETTERS, bootstrap_servers=bootstrap, auto_offset_reset="earliest", consumer_timeout_ms=2000, group_id=None
    )
    letters: dict[tuple[int, int], dict[str, Any]] = {}
    try:

        def read() -> bool:
            for message in consumer:
                letter = json.loads(message.value)
                letters[(letter["partition"], letter["offset"])] = letter
            return len(letters) >= expected

        harness.wait_for(read, timeout=300, what=f"{expected} dead letters")
    finally:
        consumer.close()
    return letters


def test_events_that_make_the_rules_raise_are_dead_lettered_and_the_events_around_them_processed(
    stack: Stack,
) -> None:
    env = {**harness.fault_env(stack.env), "CATALOG_DIR": str(catalog_with_a_raising_rule(stack.tmp_path / "rules"))}
    offers_of = harness.expected_offers()
    good = harness.births(GOOD_EVENTS, seed=11, tag="r")
    harness.register_mothers(stack.sessions, good)
    raising = [seventh_child(b, n) for n, b in enumerate(good[50::100])]  # 4, spread over the stream
    attack = born_in_9999(good[123])
    worker = harness.Worker(env, stack.logs)
    worker.start()
    try:
        out = harness.producer(stack.broker.bootstrap_servers)
        bad: dict[tuple[int, int], str] = {}
        futures = []
        for i, birth in enumerate(good):
            if i % 100 == 50:  # the raising event right among good ones, in the same batches
                key, value = raising[i // 100]
                futures.append(("ZeroDivisionError", out.send(LIFE_EVENTS, key=key, value=value)))
            if i == 123:
                futures.append(("'data.child.birth_date'", out.send(LIFE_EVENTS, key=attack[0], value=attack[1])))
            out.send(LIFE_EVENTS, key=birth.key, value=birth.value)
        out.flush(timeout=60)
        for needle, future in futures:
            meta = future.get(60)
            bad[(meta.partition, meta.offset)] = needle
        out.close()
        # Before the fix the worker retried the first raising batch forever: nothing after it was processed.
        harness.wait_for(
            lambda: harness.processed_count(stack.sessions) >= len(good), timeout=300, what="every good event"
        )
        harness.wait_until_done(stack.sessions, len(good), timeout=300)
        letters = read_dead_letters(stack.broker.bootstrap_servers, len(bad))
    finally:
        worker.stop()
        print(f"--- worker log ---\n{worker.tail()}")

    result = harness.ledger(stack.sessions, good, offers_of, stack.fcm)
    result.print(f"{len(raising)} raising events and a birth in 9999 among {len(good)} good ones")
    result.assert_zeros()  # every good event processed, matched and notified; nothing else processed
    assert set(letters) == set(bad), "exactly the raising events and the attack are dead-lettered"
    for at, needle in bad.items():
        assert needle in letters[at]["reason"], letters[at]["reason"]
    zero_division = [letters[at]["reason"] for at, needle in bad.items() if needle == "ZeroDivisionError"]
    assert all("rules_engine/" in reason or "entitlements/" in reason for reason in zero_division), zero_division


def test_a_worker_retrying_while_the_database_is_down_stops_on_sigterm_and_loses_nothing(stack: Stack) -> None:
    url = make_url(stack.env["DATABASE_URL"])
    stream = harness.births(60, seed=12, tag="s")
    harness.register_mothers(stack.sessions, stream)
    offers_of = harness.expected_offers()
    with CuttableProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        env = {**harness.fault_env(stack.env), "DATABASE_URL": proxied}
        worker = harness.Worker(env, stack.logs, name="stopping")
        worker.start()
        harness.produce(stack.broker.bootstrap_servers, stream[:10])
        harness.wait_for(lambda: harness.processed_count(stack.sessions) >= 10, timeout=300, what="warm-up")
        proxy.cut()
        harness.produce(stack.broker.bootstrap_servers, stream[10:])
        assert worker.component is not None
        log = worker.component.log
        harness.wait_for(lambda: "retrying in" in log.read_text(errors="replace"), timeout=300, what="a retry")
        worker.component.process.send_signal(signal.SIGTERM)
        try:  # before the fix the worker waited forever for the batch it could not finish
            code = worker.component.process.wait(timeout=120)
        finally:
            worker.stop()  # a worker still running here is killed: the assertion below says why
            print(f"--- stopping worker log ---\n{worker.tail()}")
        assert code == 0 or code == -signal.SIGTERM, f"the worker did not stop by itself (exit {code})"
        proxy.restore()
    worker = harness.Worker(harness.fault_env(stack.env), stack.logs, name="after")
    worker.start()
    try:
        harness.wait_until_done(stack.sessions, len(stream), timeout=300)
    finally:
        worker.stop()
        print(f"--- next worker log ---\n{worker.tail()}")
    result = harness.ledger(stack.sessions, stream, offers_of, stack.fcm)
    result.print("SIGTERM while retrying, then a new worker")
    result.assert_zeros()
