"""The engine's processes expose, on the real stack, the metrics and probes operators and Kubernetes rely on."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from beforeservice.broker import free_port
from beforeservice.push_outcomes import AUTH_OUTCOMES
from events.producer import AgencyProducer
from events.topics import LIFE_EVENTS
from tests.beforeservice.ops.scrape import samples, status, value
from tests.conftest import PARTITIONS, Component, Stack, wait_for
from tests.support.births import birth_event, register_device, seed_household

pytestmark = pytest.mark.integration


def test_a_worker_reports_lag_batches_outcomes_and_becomes_ready(stack: Stack) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**stack.env, "WORKER_METRICS_PORT": str(port), "WORKER_DISPATCHES_OUTBOX": "false"}
    seed_household(stack.sessions, "hh-lee", ["m-lee", "f-lee"], "41110", date(2021, 5, 1))
    worker = Component("worker", env, stack.logs)
    try:
        wait_for(lambda: status(f"{base}/livez") == 200, what="the worker's liveness probe")
        # Ready only once it holds partitions and reached the database.
        wait_for(lambda: status(f"{base}/readyz") == 200, what="the worker ready")
        producer = AgencyProducer(stack.broker.bootstrap_servers)
        producer.send(birth_event(mother="m-lee", father="f-lee", child="c-lee", birth_order=1))
        producer.flush()
        producer.close()

        def processed() -> bool:
            found = samples(base)
            return value(found, "beforeservice_event_outcomes_total", outcome="matched") > 0 and (
                value(found, "beforeservice_batch_duration_seconds_count") > 0
            )

        wait_for(processed, what="the birth's batch and matches counted")
        found = samples(base)
        lag = {dict(labels)["partition"] for name, labels in found if name == "beforeservice_consumer_lag"}
        assert lag == {str(p) for p in range(PARTITIONS)}  # the only worker holds every partition
        assert value(found, "beforeservice_consumer_lag", topic=LIFE_EVENTS) >= 0
        # Once committed, nothing of the topic lags any more.
        wait_for(lambda: value(samples(base), "beforeservice_consumer_lag") == 0, what="the lag back to 0")
        assert value(found, "beforeservice_event_outcomes_total", outcome="dead_lettered") == 0
        assert value(found, "beforeservice_events_consumed_total") == 1
    finally:
        worker.stop()


def test_the_dispatcher_counts_fcm_auth_failures_then_accepted_pushes_and_the_outbox(stack: Stack) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**stack.env, "WORKER_DISPATCHES_OUTBOX": "false", "DISPATCHER_METRICS_PORT": str(port)}
    seed_household(stack.sessions, "hh-choi", ["m-choi", "f-choi"], "41110", date(2021, 5, 1))
    register_device(stack.sessions, "m-choi", "token-choi-phone")
    stack.fcm.refuse_grants = True  # the service-account key was revoked
    worker = Component("worker", env, stack.logs)
    dispatcher: Component | None = None
    try:
        producer = AgencyProducer(stack.broker.bootstrap_servers)
        producer.send(birth_event(mother="m-choi", father="f-choi", child="c-choi", birth_order=1))
        producer.flush()
        producer.close()
        dispatcher = Component("dispatcher", env, stack.logs)
        wait_for(lambda: status(f"{base}/readyz") == 200, what="the dispatcher ready (database reached)")

        def refused() -> bool:
            found = samples(base)
            return sum(value(found, "beforeservice_push_outcomes_total", outcome=o) for o in AUTH_OUTCOMES) > 0

        wait_for(refused, what="FCM's refusal counted")
        wait_for(
            lambda: value(samples(base), "beforeservice_outbox_depth", state="due") == 2,
            what="both parents' notifications due in the outbox",
        )
        assert value(samples(base), "beforeservice_push_outcomes_total", outcome="accepted") == 0

        stack.fcm.refuse_grants = False  # a new key: the outbox drains
        wait_for(
            lambda: value(samples(base), "beforeservice_push_outcomes_total", outcome="accepted") == 1,
            what="the push accepted",
        )
        wait_for(
            lambda: value(samples(base), "beforeservice_outbox_depth", state="due") == 0,
            what="the outbox drained",
        )
        found = samples(base)
        assert value(found, "beforeservice_outbox_oldest_age_seconds") == 0
        assert value(found, "beforeservice_notifications_pushed_total") == 1
        assert status(f"{base}/livez") == 200
    finally:
        if dispatcher is not None:
            dispatcher.stop()
        worker.stop()


def test_the_scheduler_holding_the_lease_says_so_and_a_standby_does_not(database_url: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_", "FIREBASE_", "FCM_"))}
    env.update({"DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "var")})
    ports = free_port(), free_port()
    active = Component("scheduler", {**env, "SCHEDULER_METRICS_PORT": str(ports[0])}, tmp_path / "active")
    standby: Component | None = None
    try:
        first = f"http://127.0.0.1:{ports[0]}"
        wait_for(lambda: value(samples(first), "beforeservice_scheduler_lease_held") == 1, what="the lease held")
        standby = Component("scheduler", {**env, "SCHEDULER_METRICS_PORT": str(ports[1])}, tmp_path / "standby")
        second = f"http://127.0.0.1:{ports[1]}"
        wait_for(lambda: "standing by" in standby.log.read_text(), timeout=60, what="the second one stands by")
        assert ("beforeservice_scheduler_lease_held", frozenset()) in samples(second)
        assert value(samples(second), "beforeservice_scheduler_lease_held") == 0
        assert status(f"{second}/livez") == 200  # standing by is healthy, not stuck
        assert status(f"{first}/readyz") == 200 and status(f"{first}/livez") == 200
    finally:
        if standby is not None:
            standby.stop()
        active.stop()


def test_the_api_measures_latency_by_route_template_and_is_ready(stack: Stack, api: object) -> None:
    import httpx

    base = f"http://127.0.0.1:{stack.env['API_PORT']}"
    assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
    assert httpx.get(f"{base}/v1/citizens/c-secret-9901/inbox", timeout=10).status_code == 401
    assert httpx.get(f"{base}/no/such/route", timeout=10).status_code == 404
    text = httpx.get(f"{base}/metrics", timeout=10).text
    assert "c-secret-9901" not in text and "/no/such/route" not in text  # raw paths never become labels
    found = samples(base)
    count = "beforeservice_api_request_duration_seconds_count"
    assert value(found, count, route="/v1/citizens/{citizen_id}/inbox", method="GET", status="4xx") == 1
    assert value(found, count, route="unmatched", status="4xx") == 1
    assert value(found, count, route="/readyz", status="2xx") == 1
