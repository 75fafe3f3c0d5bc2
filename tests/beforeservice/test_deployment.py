"""The deployment files agree with the code: compose commands exist in the CLI, variables are real settings,
and the README documents every setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml

from beforeservice.cli import app
from beforeservice.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _cli_commands() -> set[str]:
    group: Any = typer.main.get_command(app)
    return set(group.commands)


def test_every_compose_command_is_a_cli_command() -> None:
    commands = _cli_commands()
    for name, service in COMPOSE["services"].items():
        if "command" in service:
            assert service["command"][0] in commands, name
    assert "db" in commands and "topics" in commands  # used by the migrate service's entrypoint


def test_compose_environment_uses_only_real_settings() -> None:
    settings = {name.upper() for name in Settings.model_fields}
    for name, service in COMPOSE["services"].items():
        if name.startswith("kafka") or name == "postgres":
            continue
        unknown = set(service.get("environment", {})) - settings
        assert not unknown, (name, unknown)


def test_workers_scale_and_scheduler_is_single() -> None:
    assert COMPOSE["services"]["worker"]["deploy"]["replicas"] == 2
    assert COMPOSE["services"]["scheduler"]["deploy"]["replicas"] == 1
    assert (
        "KRaft" in (ROOT / "docker-compose.yml").read_text()
        or COMPOSE["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    )


def test_readme_documents_every_setting_and_both_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in readme]
    assert missing == []
    assert "make run" in readme and "make test" in readme


def test_dockerfile_ships_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("events", "rules_engine", "entitlements", "notifiers", "beforeservice"):
        assert f"COPY {package} {package}" in dockerfile


def test_published_json_schemas_match_the_contracts(tmp_path: Path) -> None:
    """Agencies validate against docs/schemas: a contract change must be a deliberate re-export."""
    from entitlements.situations import export_json_schema
    from events.contracts import export_json_schemas

    fresh = {p.name: p.read_text() for p in [*export_json_schemas(tmp_path), export_json_schema(tmp_path)]}
    # openapi.json, exported by the same command, is pinned by tests/beforeservice/api/test_openapi_snapshot.py
    published = {p.name: p.read_text() for p in (ROOT / "docs" / "schemas").glob("*.json") if p.name != "openapi.json"}
    assert fresh == published
