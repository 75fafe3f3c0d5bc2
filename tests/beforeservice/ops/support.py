"""What the operations tests share: the repository's deployment files and the metric names the engine exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

import beforeservice.metrics  # noqa: F401 - registers every metric of the engine

ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "beforeservice.json"
OPERATIONS = ROOT / "docs" / "operations.md"
METRIC_NAME = re.compile(r"\bbeforeservice_[a-z0-9_]+\b")
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
}


def engine_families() -> dict[str, str]:
    """Every metric family of the engine in the registry, by name (counters without `_total`): its type."""
    return {m.name: m.type for m in REGISTRY.collect() if m.name.startswith("beforeservice_")}


def exposed_names() -> set[str]:
    """Every series name the engine can expose (a counter `x` as `x_total`, a histogram as `_bucket`…)."""
    return {name + suffix for name, kind in engine_families().items() for suffix in _SUFFIXES[kind]}


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def names_in(expr: str) -> set[str]:
    return set(METRIC_NAME.findall(expr))
