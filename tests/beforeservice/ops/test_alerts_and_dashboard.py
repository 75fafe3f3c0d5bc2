"""The alert rules and the dashboard are valid, fire when they should, and name only metrics the engine exposes."""

from __future__ import annotations

import re
import subprocess

import yaml

from tests.beforeservice.ops.support import (
    ALERT_TESTS,
    ALERTS,
    DASHBOARD,
    OPERATIONS,
    alert_rules,
    dashboard_exprs,
    engine_families,
    exposed_names,
    names_in,
)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    # promtool comes from Debian's prometheus package (`make ops-tools`); missing, this fails rather than skips.
    return subprocess.run(["promtool", *args], capture_output=True, text=True, timeout=120, check=False)


def test_promtool_checks_the_rules() -> None:
    checked = promtool("check", "rules", str(ALERTS))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked.stdout


def test_promtool_unit_tests_fire_every_alert() -> None:
    tested = promtool("test", "rules", str(ALERT_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    fired = {
        case["alertname"]
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert fired == {rule["alert"] for rule in alert_rules()}


def test_the_alerts_watch_what_operators_asked_for() -> None:
    watched = {name for rule in alert_rules() for name in names_in(rule["expr"])}
    assert {
        "beforeservice_consumer_lag",
        "beforeservice_outbox_oldest_age_seconds",
        "beforeservice_event_outcomes_total",
        "beforeservice_push_outcomes_total",
        "beforeservice_scheduler_lease_held",
        "beforeservice_api_request_duration_seconds_count",
    } <= watched


def test_alerts_and_dashboard_name_only_metrics_the_engine_exposes() -> None:
    exposed = exposed_names()
    for rule in alert_rules():
        assert names_in(rule["expr"]) <= exposed, (rule["alert"], names_in(rule["expr"]) - exposed)
    for expr in dashboard_exprs():
        assert names_in(expr) <= exposed, (expr, names_in(expr) - exposed)


def test_the_dashboard_has_a_panel_for_every_metric() -> None:
    shown = {name for expr in dashboard_exprs() for name in names_in(expr)}
    families = engine_families()
    missing = [name for name in families if not any(s.startswith(name) for s in shown)]
    assert missing == []
    assert '"uid": "${datasource}"' in DASHBOARD.read_text()  # no datasource of one installation baked in


def github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alert_has_a_runbook_section() -> None:
    anchors = {github_anchor(line.lstrip("#")) for line in OPERATIONS.read_text().splitlines() if line.startswith("#")}
    for rule in alert_rules():
        url = rule["annotations"]["runbook_url"]
        assert url.partition("#")[0].endswith("docs/operations.md"), url
        assert url.partition("#")[2] in anchors, (rule["alert"], url)
        assert github_anchor(rule["alert"]) == url.partition("#")[2]
