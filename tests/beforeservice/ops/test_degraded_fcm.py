"""Degraded mode: FCM is down for minutes. Births keep arriving and the worker keeps matching; the dispatcher's
outbox grows and the age of its oldest due notification rises, so the outbox alert's condition holds on what the
dispatcher exposes (promtool evaluates alerts.yml over the scraped samples); when FCM comes back every notification
is pushed, each exactly once.

Real parts: tansu, PostgreSQL, the worker and the dispatcher as processes (`beforeservice worker|dispatcher`), the
local FCM server answering 503 UNAVAILABLE while it is "down"."""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.broker import free_port
from events.producer import AgencyProducer
from notifiers.tables import NotificationRow
from tests.beforeservice.ops.scrape import samples, status, value
from tests.beforeservice.ops.support import ALERTS, alert_rules
from tests.conftest import Component, Stack, wait_for
from tests.support.births import birth_event, register_device, seed_household

pytestmark = pytest.mark.integration

FAMILIES = 4  # family 0 before the outage, 1-3 during it; both parents of each have a phone
OUTAGE = timedelta(minutes=15)
AGE = "beforeservice_outbox_oldest_age_seconds"
ALERT = "BeforeServiceOutboxStale"
REFRESH = 5.5  # the dispatcher refreshes its outbox gauges every 5 s (beforeservice/outbox_gauges.py)


def statuses(sessions: sessionmaker[Session]) -> dict[str, tuple[str, str, str | None]]:
    with sessions() as s:
        return {
            n.id: (n.recipient_id, n.dispatch_status, n.hold_reason)
            for n in s.execute(
                select(
                    NotificationRow.id,
                    NotificationRow.recipient_id,
                    NotificationRow.dispatch_status,
                    NotificationRow.hold_reason,
                )
            )
        }


def produce(stack: Stack, families: range) -> None:
    producer = AgencyProducer(stack.broker.bootstrap_servers)
    for n in families:
        producer.send(birth_event(mother=f"m-{n}", father=f"f-{n}", child=f"c-{n}", birth_order=1, event_id=f"b-{n}"))
    producer.flush()
    producer.close()


def backdate_unsent(sessions: sessionmaker[Session], by: timedelta) -> None:
    """The outage made `by` longer than the test waits: the unsent notifications were written that long ago (the
    gauge computes their age from created_at, as it would after a real outage of that length)."""
    with sessions.begin() as s:
        s.execute(
            update(NotificationRow)
            .where(NotificationRow.dispatch_status.in_(("pending", "held")))
            .values(created_at=NotificationRow.created_at - by)
        )


def stale_alert() -> dict[str, Any]:
    return next(rule for rule in alert_rules() if rule.get("alert") == ALERT)


def promtool_verdicts(ages: list[float], recovered: list[float], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """alerts.yml's outbox alert evaluated by promtool over the scraped ages, one sample a minute: firing once the
    outage's samples have lasted its `for`, and resolved on the samples scraped after FCM came back."""
    rule = stale_alert()
    fired_at = len(ages) - 1
    expected = {"exp_labels": dict(rule["labels"]), "exp_annotations": dict(rule["annotations"])}
    test = {
        "rule_files": [str(ALERTS)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'{AGE}{{job="dispatcher"}}', "values": " ".join(f"{v:.3f}" for v in ages + recovered)}
                ],
                "alert_rule_test": [
                    {"eval_time": f"{fired_at}m", "alertname": ALERT, "exp_alerts": [expected]},
                    {"eval_time": f"{len(ages) + len(recovered) - 1}m", "alertname": ALERT, "exp_alerts": []},
                ],
            }
        ],
    }
    path = tmp_path / "scraped_alerts_test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    return subprocess.run(["promtool", "test", "rules", str(path)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_fcm_down_for_minutes_grows_the_outbox_fires_the_alert_and_loses_or_repeats_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **stack.env,
        "WORKER_DISPATCHES_OUTBOX": "false",
        "DISPATCHER_METRICS_PORT": str(port),
        # Re-sends after 1, 2, 2… s instead of 2, 4, 8… min: the test waits seconds, not the production backoff.
        "PUSH_RETRY_BASE_SECONDS": "0.5",
        "PUSH_RETRY_CAP_SECONDS": "2",
    }
    tokens = {}
    for n in range(FAMILIES):
        seed_household(stack.sessions, f"hh-{n}", [f"m-{n}", f"f-{n}"], "41110", date(2021, 5, 1))
        for parent in (f"m-{n}", f"f-{n}"):
            tokens[parent] = f"token-{parent}"
            register_device(stack.sessions, parent, tokens[parent])
    threshold = float(re.findall(r">\s*([0-9.]+)", stale_alert()["expr"])[-1])
    worker = Component("worker", env, stack.logs)
    dispatcher = Component("dispatcher", env, stack.logs)
    try:
        wait_for(lambda: status(f"{base}/readyz") == 200, what="the dispatcher ready")
        produce(stack, range(1))
        wait_for(lambda: len(stack.fcm.received) == 2, what="family 0's pushes, FCM up")

        stack.fcm.unavailable = True  # FCM down: every send answered 503 UNAVAILABLE
        produce(stack, range(1, FAMILIES))

        def all_waiting_on_fcm() -> bool:
            rows = statuses(stack.sessions).values()
            waiting = [r for r in rows if r[1] != "sent"]
            return len(waiting) == 2 * (FAMILIES - 1) and all(r[1:] == ("held", "retry") for r in waiting)

        wait_for(all_waiting_on_fcm, timeout=120, what="the births matched and their pushes held for FCM's return")
        wait_for(
            lambda: value(samples(base), "beforeservice_outbox_depth", state="due") == 2 * (FAMILIES - 1),
            what="the held pushes counted as due in the outbox",
        )
        found = samples(base)
        assert value(found, "beforeservice_push_outcomes_total", outcome="unavailable") > 0
        assert value(found, "beforeservice_outbox_depth", state="held") == 0  # owed now, not held on purpose

        backdate_unsent(stack.sessions, OUTAGE)
        wait_for(lambda: value(samples(base), AGE) >= OUTAGE.total_seconds(), what="the gauge's next refresh")
        ages: list[float] = []
        for _ in range(7):  # one more than the alert's `for: 5m` in minutes, a refresh of the gauge apart
            found = samples(base)
            assert value(found, "beforeservice_outbox_depth", state="due") == 2 * (FAMILIES - 1)
            ages.append(value(found, AGE))
            time.sleep(REFRESH)
        assert all(age > threshold for age in ages), (ages, threshold)
        assert ages == sorted(ages) and ages[-1] - ages[0] >= 5 * 5, ages  # rising with the clock
        assert len(stack.fcm.received) == 2  # nothing got through while FCM was down

        stack.fcm.unavailable = False  # FCM back
        wait_for(
            lambda: all(r[1] == "sent" for r in statuses(stack.sessions).values()),
            timeout=120,
            what="every notification sent once FCM is back",
        )
        wait_for(lambda: value(samples(base), AGE) == 0, what="the outbox age back to 0")
        recovered = []
        for _ in range(3):
            recovered.append(value(samples(base), AGE))
            time.sleep(REFRESH)
        found = samples(base)
        assert value(found, "beforeservice_outbox_depth", state="due") == 0
        assert value(found, "beforeservice_notifications_pushed_total") == 2 * FAMILIES
    finally:
        dispatcher.stop()
        worker.stop()

    verdicts = promtool_verdicts(ages, recovered, tmp_path)
    assert verdicts.returncode == 0, verdicts.stdout + verdicts.stderr

    rows = statuses(stack.sessions)
    assert len(rows) == 2 * FAMILIES
    expected = Counter((tokens[recipient], notification) for notification, (recipient, _, _) in rows.items())
    delivered = Counter((m["token"], m["data"]["notification_id"]) for m in stack.fcm.received)
    assert delivered == expected  # each push exactly once: none lost, none repeated
    assert stack.fcm.unavailable_replies > 0
