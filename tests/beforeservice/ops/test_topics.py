"""`beforeservice topics apply|check` against the real broker (tansu), the producers' durability settings, and
docker-compose agreeing with the declaration."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic

from beforeservice.broker import EmbeddedBroker, free_port
from beforeservice.cli import app
from beforeservice.faust_app import worker_app
from beforeservice.settings import Settings
from beforeservice.topics import DAY_MS, admin_client, declared_topics, min_insync_replicas
from events.producer import AgencyProducer
from events.topics import DEAD_LETTERS, LIFE_EVENTS

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture
def bare_broker() -> Iterator[EmbeddedBroker]:
    """tansu with no topics at all (the `broker` fixture creates them)."""
    with EmbeddedBroker(free_port()) as running:
        yield running


def topics_cli(broker: EmbeddedBroker, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    env.update({"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "LIFE_EVENTS_PARTITIONS": "4", **variables})
    return subprocess.run(
        [sys.executable, "-m", "beforeservice", "topics", *args], env=env, capture_output=True, text=True, timeout=120
    )


def verdicts(output: str) -> dict[tuple[str, str], str]:
    """(topic, setting) -> verdict, from the lines `check` prints."""
    found = {}
    for line in output.splitlines():
        match = re.match(r"(ok|differs|unknown|missing)\s+(\S+)\s+(.+?)\s+declared ", line)
        if match:
            found[(match[2], match[3].strip())] = match[1]
    return found


def test_production_declaration_is_three_replicas_two_in_sync_and_the_replay_horizon() -> None:
    production = Settings(kafka_bootstrap_servers="kafka-1:9092", dev_mode=False, replay_horizon_days=3650)
    life, dead = declared_topics(production)
    assert (life.name, life.replication_factor, life.configs["min.insync.replicas"]) == (LIFE_EVENTS, 3, "2")
    assert life.configs["retention.ms"] == str(3650 * DAY_MS) and life.configs["cleanup.policy"] == "delete"
    assert (dead.name, dead.replication_factor, dead.configs["min.insync.replicas"]) == (DEAD_LETTERS, 3, "2")
    # Development: one embedded node, so one replica, one in sync; the setting overrides either way.
    assert declared_topics(Settings(kafka_bootstrap_servers=None))[0].replication_factor == 1
    assert declared_topics(Settings(kafka_bootstrap_servers="k:9092", dev_mode=True))[0].replication_factor == 1
    overridden = Settings(kafka_bootstrap_servers="k:9092", kafka_replication_factor=5)
    assert declared_topics(overridden)[0].replication_factor == 5
    assert [min_insync_replicas(n) for n in (1, 2, 3, 5)] == [1, 1, 2, 2]


@pytest.mark.integration
def test_apply_creates_the_declared_topics_and_check_finds_them_as_declared(bare_broker: EmbeddedBroker) -> None:
    applied = topics_cli(bare_broker, "apply", KAFKA_REPLICATION_FACTOR="3", REPLAY_HORIZON_DAYS="400")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"created  {LIFE_EVENTS}: 4 partitions, replication factor 3" in applied.stdout

    with admin_client(bare_broker.bootstrap_servers) as admin:
        described = {t["name"]: t for t in admin.describe_topics([LIFE_EVENTS, DEAD_LETTERS])}
        resource = ConfigResource(ConfigResourceType.TOPIC, LIFE_EVENTS)
        configs = admin.describe_configs([resource], config_filter="all")["topic"][LIFE_EVENTS]
    assert len(described[LIFE_EVENTS]["partitions"]) == 4 and len(described[DEAD_LETTERS]["partitions"]) == 1
    assert {len(p["replica_nodes"]) for p in described[LIFE_EVENTS]["partitions"]} == {3}
    assert configs["retention.ms"]["value"] == str(400 * DAY_MS)
    assert configs["min.insync.replicas"]["value"] == "2"

    checked = topics_cli(bare_broker, "check", KAFKA_REPLICATION_FACTOR="3", REPLAY_HORIZON_DAYS="400")
    assert checked.returncode == 0, checked.stdout
    assert set(verdicts(checked.stdout).values()) == {"ok"}
    assert len(verdicts(checked.stdout)) == 2 * 5  # partitions, replicas, 3 configs, for both topics

    again = topics_cli(bare_broker, "apply", KAFKA_REPLICATION_FACTOR="3", REPLAY_HORIZON_DAYS="400")
    assert again.returncode == 0 and "created" not in again.stdout  # idempotent


@pytest.mark.integration
def test_check_names_a_differing_partition_count_and_a_short_retention(bare_broker: EmbeddedBroker) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bare_broker.bootstrap_servers)
    try:  # an operator's cluster: life events with 2 partitions and 1 day of retention
        admin.create_topics(
            [NewTopic(LIFE_EVENTS, 2, 1, topic_configs={"retention.ms": str(DAY_MS), "min.insync.replicas": "1"})]
        )
    finally:
        admin.close()

    applied = topics_cli(bare_broker, "apply", KAFKA_REPLICATION_FACTOR="1")
    assert applied.returncode == 1  # the dead-letter topic is created, the differing one is named
    assert f"created  {DEAD_LETTERS}" in applied.stdout and "differs" in applied.stderr

    checked = topics_cli(bare_broker, "check", KAFKA_REPLICATION_FACTOR="1")
    assert checked.returncode == 1
    found = verdicts(checked.stdout)
    assert found[(LIFE_EVENTS, "partitions")] == "differs"
    assert found[(LIFE_EVENTS, "retention.ms")] == "differs"
    assert found[(LIFE_EVENTS, "min.insync.replicas")] == "ok"
    assert found[(LIFE_EVENTS, "cleanup.policy")] == "unknown"  # tansu reports only the configs it was given
    assert "DIFFERS" in checked.stdout

    # A longer retention than the horizon is fine ("at least"); -1 is for ever.
    admin = KafkaAdminClient(bootstrap_servers=bare_broker.bootstrap_servers)
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, LIFE_EVENTS, configs={"retention.ms": "-1"})])
    finally:
        admin.close()
    found = verdicts(topics_cli(bare_broker, "check", KAFKA_REPLICATION_FACTOR="1").stdout)
    assert found[(LIFE_EVENTS, "retention.ms")] == "ok"


@pytest.mark.integration
def test_a_setting_the_broker_does_not_report_is_unknown_never_ok(bare_broker: EmbeddedBroker) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bare_broker.bootstrap_servers)
    try:  # created without configs: tansu's DescribeConfigs then reports none of them
        admin.create_topics([NewTopic(LIFE_EVENTS, 4, 1), NewTopic(DEAD_LETTERS, 1, 1)])
    finally:
        admin.close()
    checked = topics_cli(bare_broker, "check", KAFKA_REPLICATION_FACTOR="1")
    found = verdicts(checked.stdout)
    assert found[(LIFE_EVENTS, "partitions")] == "ok" and found[(LIFE_EVENTS, "replication factor")] == "ok"
    for setting in ("retention.ms", "min.insync.replicas", "cleanup.policy"):
        assert found[(LIFE_EVENTS, setting)] == "unknown" and found[(DEAD_LETTERS, setting)] == "unknown"
    assert "not reported by the broker" in checked.stdout
    assert checked.returncode == 2  # nothing differs, but it was not all known


@pytest.mark.integration
def test_check_says_missing_topics(bare_broker: EmbeddedBroker) -> None:
    checked = topics_cli(bare_broker, "check")
    assert checked.returncode == 1
    assert verdicts(checked.stdout) == {(LIFE_EVENTS, "topic"): "missing", (DEAD_LETTERS, "topic"): "missing"}


@pytest.mark.integration
def test_the_agency_producer_is_idempotent_with_acks_all_on_the_real_broker(broker: EmbeddedBroker) -> None:
    producer = AgencyProducer(broker.bootstrap_servers)
    try:
        config = producer._producer.config
        assert config["acks"] == -1 and config["enable_idempotence"] is True
        producer.send_raw(b"{}", key=b"k")
        producer.flush()  # the broker granted a producer id and took the record
    finally:
        producer.close()


def test_the_workers_dead_letter_producer_is_idempotent_with_acks_all_in_production() -> None:
    production = Settings(kafka_bootstrap_servers="kafka-1:9092", dev_mode=False)
    app = worker_app(production)
    assert app.conf.producer_acks == -1 and app.conf.topic_replication_factor == 3
    options = app.producer._settings_extra()  # type: ignore[attr-defined]
    assert options["enable_idempotence"] is True and options["acks"] == "all"
    development = worker_app(Settings(kafka_bootstrap_servers=None))
    assert "enable_idempotence" not in development.producer._settings_extra()  # type: ignore[attr-defined]


def test_the_ingestion_producer_follows_the_idempotence_setting() -> None:
    source = (ROOT / "beforeservice" / "api" / "app.py").read_text()
    assert 'acks="all"' in source and "enable_idempotence=settings.idempotent_producers" in source
    assert Settings(kafka_bootstrap_servers="kafka-1:9092", dev_mode=False).idempotent_producers is True
    assert Settings(kafka_bootstrap_servers="kafka-1:9092", kafka_idempotence=False).idempotent_producers is False
    assert Settings(kafka_bootstrap_servers=None).idempotent_producers is False


def _compose_value(raw: Any) -> str:
    """A compose value with `${VAR:-default}` resolved to its default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(raw))


def test_docker_compose_creates_the_declared_topics_on_brokers_that_can_hold_them() -> None:
    services = COMPOSE["services"]
    migrate = " ".join(services["migrate"]["entrypoint"])
    assert "beforeservice topics apply" in migrate
    group: Any = typer.main.get_command(app)
    assert {"apply", "check"} <= set(group.commands["topics"].commands)

    engine_env = {k: _compose_value(v) for k, v in services["worker"]["environment"].items()}
    declared = declared_topics(
        Settings(
            kafka_bootstrap_servers=engine_env["KAFKA_BOOTSTRAP_SERVERS"],
            dev_mode=False,
            life_events_partitions=int(engine_env["LIFE_EVENTS_PARTITIONS"]),
            kafka_replication_factor=int(engine_env["KAFKA_REPLICATION_FACTOR"]),
            replay_horizon_days=int(engine_env["REPLAY_HORIZON_DAYS"]),
        )
    )
    life = declared[0]
    assert life.replication_factor == 3 and life.configs["min.insync.replicas"] == "2"  # production as declared
    assert life.partitions >= services["worker"]["deploy"]["replicas"]

    brokers = {name: s for name, s in services.items() if name.startswith("kafka")}
    assert len(brokers) >= life.replication_factor  # a replica per node
    bootstrap = set(engine_env["KAFKA_BOOTSTRAP_SERVERS"].split(","))
    for name, broker in brokers.items():
        env = {k: str(v) for k, v in broker["environment"].items()}
        assert f"{name}:9092" in bootstrap and env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == life.configs["min.insync.replicas"]
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == str(life.replication_factor)
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == str(life.replication_factor)  # committed offsets
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"  # only `topics apply` creates them
        assert len(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == len(brokers)
        assert services["migrate"]["depends_on"][name]["condition"] == "service_healthy"
    assert len({str(b["environment"]["KAFKA_NODE_ID"]) for b in brokers.values()}) == len(brokers)
