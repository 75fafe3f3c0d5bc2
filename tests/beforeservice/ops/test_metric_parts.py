"""The parts behind the metrics, without a server: push outcomes, scheduled job results, probes, API routes."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import google.auth.exceptions
import httpx
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi import FastAPI
from fastapi.testclient import TestClient

from beforeservice import metrics
from beforeservice.api import metrics as api_metrics
from beforeservice.broker import free_port
from beforeservice.consumer_lag import lag_of
from beforeservice.probes import Probes, serve
from beforeservice.push_outcomes import CountedPushSender
from beforeservice.scheduler_metrics import REMINDER, count_job_results, job_name
from notifiers.push import PushMessage, PushResult
from notifiers.reminders import job_id


def count(counter: object, **labels: str) -> float:
    return metrics._total(counter.labels(**labels))  # type: ignore[attr-defined]


class ScriptedSender:
    def __init__(self, answers: list[PushResult] | Exception) -> None:
        self.answers = answers

    def send(self, messages: Sequence[PushMessage]) -> list[PushResult]:
        if isinstance(self.answers, Exception):
            raise self.answers
        return self.answers


def test_pushes_are_counted_by_fcm_outcome_with_bounded_labels() -> None:
    before = {o: count(metrics.PUSH_OUTCOMES, outcome=o) for o in ("accepted", "unregistered", "other", "auth_failed")}
    message = PushMessage("t", "title", "body", "key")
    answers = [
        PushResult("a", accepted=True),
        PushResult("b", accepted=False, error_code="UNREGISTERED", token_invalid=True),
        PushResult("c", accepted=False, error_code="SOMETHING_NEW_<script>"),
    ]
    assert CountedPushSender(ScriptedSender(answers)).send([message] * 3) == answers
    with pytest.raises(google.auth.exceptions.RefreshError):
        CountedPushSender(ScriptedSender(google.auth.exceptions.RefreshError("invalid_grant"))).send([message] * 2)
    after = {o: count(metrics.PUSH_OUTCOMES, outcome=o) for o in before}
    assert {o: after[o] - before[o] for o in before} == {"accepted": 1, "unregistered": 1, "other": 1, "auth_failed": 2}


def test_scheduled_job_results_are_counted_by_job_and_result() -> None:
    assert job_name(job_id("0f8fad5b-d9cb-469f-a165-70867728950e", 14)) == REMINDER
    assert job_name("expire_offers") == "expire_offers" and job_name("anything-else") == "other"
    done = threading.Event()

    def fails() -> None:
        done.set()
        raise RuntimeError("job failed")

    ok_before = count(metrics.SCHEDULER_JOBS, job="expire_offers", result="ok")
    error_before = count(metrics.SCHEDULER_JOBS, job="emit_milestones", result="error")
    scheduler = BackgroundScheduler()
    count_job_results(scheduler)
    scheduler.add_job(lambda: None, id="expire_offers")
    scheduler.add_job(fails, id="emit_milestones")
    scheduler.start()
    try:
        assert done.wait(30)
        deadline = time.monotonic() + 30
        while count(metrics.SCHEDULER_JOBS, job="emit_milestones", result="error") == error_before:
            assert time.monotonic() < deadline, "the failed run was not counted"
            time.sleep(0.05)
    finally:
        scheduler.shutdown(wait=True)
    assert count(metrics.SCHEDULER_JOBS, job="expire_offers", result="ok") == ok_before + 1


def test_probes_fail_liveness_on_stuck_work_and_readiness_on_a_failing_condition() -> None:
    probes = Probes(["partitions", "database"], stuck_after=1.0)
    server = serve(probes, "127.0.0.1", free_port())
    assert server is not None
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        assert httpx.get(f"{base}/readyz").status_code == 503  # nothing reported yet
        probes.beat()
        probes.report("partitions", True)
        probes.report("database", True)
        assert httpx.get(f"{base}/readyz").status_code == 200
        probes.report("database", False)
        answer = httpx.get(f"{base}/readyz")
        assert answer.status_code == 503 and answer.json()["database"] is False
        assert httpx.get(f"{base}/livez").status_code == 200
        with probes.working():
            time.sleep(1.2)  # a unit of work running longer than stuck_after
            assert httpx.get(f"{base}/livez").status_code == 503
            probes.beat()
            assert httpx.get(f"{base}/livez").status_code == 503  # beating does not hide stuck work
        assert httpx.get(f"{base}/livez").status_code == 200
        time.sleep(1.2)  # no beat for longer than stuck_after
        assert httpx.get(f"{base}/livez").status_code == 503
        assert "beforeservice_consumer_lag" in httpx.get(f"{base}/metrics").text
    finally:
        server.shutdown()
        server.server_close()
    assert serve(probes, "127.0.0.1", 0) is None


def test_lag_counts_from_the_committed_offset_or_the_start() -> None:
    assert lag_of({"p0": 120, "p1": 50, "p2": 7}, {"p0": 100, "p1": None, "p2": 9}, {"p1": 20}) == {
        "p0": 20,
        "p1": 30,
        "p2": 0,
    }


def test_api_latency_is_labelled_by_route_template_and_errors_are_5xx() -> None:
    app = FastAPI()

    @app.get("/v1/things/{thing_id}")
    def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    api_metrics.install(app)
    histogram = metrics.API_REQUEST_DURATION
    series = {
        "thing": {"route": "/v1/things/{thing_id}", "method": "GET", "status": "2xx"},
        "boom": {"route": "/boom", "method": "GET", "status": "5xx"},
        "odd": {"route": "unmatched", "method": "OTHER", "status": "4xx"},
    }
    before = {k: _observations(histogram, v) for k, v in series.items()}
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/v1/things/x-1").status_code == 200
        assert client.get("/boom").status_code == 500
        assert client.request("BREW", "/coffee").status_code == 404
    assert {k: _observations(histogram, v) - before[k] for k, v in series.items()} == {"thing": 1, "boom": 1, "odd": 1}


def _observations(histogram: object, labels: dict[str, str]) -> float:
    for family in histogram.collect():  # type: ignore[attr-defined]
        for sample in family.samples:
            if sample.name.endswith("_count") and sample.labels == labels:
                return float(sample.value)
    return 0.0
