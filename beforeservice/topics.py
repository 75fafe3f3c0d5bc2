"""The engine's Kafka topics, declared in one place, and `beforeservice topics apply|check` against a cluster.

Production: replication factor 3 and min.insync.replicas 2 (with the producers' acks=all, a write survives the
loss of a broker), life events kept at least the replay horizon (`beforeservice rebuild` and shadow replays
read them from offset 0). `check` describes what the cluster has and names every difference; a setting the
broker does not report (tansu reports only the configs a topic was created or altered with) is "unknown",
never taken as matching.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import typer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from beforeservice.settings import Settings, get_settings
from events.topics import DEAD_LETTERS, LIFE_EVENTS

DAY_MS = 86_400_000
RETENTION = "retention.ms"
MIN_INSYNC = "min.insync.replicas"
CLEANUP = "cleanup.policy"
UNLIMITED = "-1"  # retention.ms -1 keeps records for ever: longer than any horizon

Verdict = Literal["ok", "differs", "unknown", "missing"]


@dataclass(frozen=True)
class TopicDeclaration:
    name: str
    partitions: int
    replication_factor: int
    configs: dict[str, str]

    def new_topic(self) -> NewTopic:
        return NewTopic(self.name, self.partitions, self.replication_factor, topic_configs=dict(self.configs))


@dataclass(frozen=True)
class Finding:
    topic: str
    setting: str
    declared: str
    actual: str | None  # None: the broker did not say
    verdict: Verdict

    def line(self) -> str:
        actual = "not reported by the broker" if self.actual is None else self.actual
        return f"{self.verdict:<8} {self.topic:<26} {self.setting:<20} declared {self.declared:<14} cluster {actual}"


def min_insync_replicas(replication_factor: int) -> int:
    """2 of 3 in production: one broker may fail and acks=all writes go on; a single node can only ask for 1."""
    return max(1, min(2, replication_factor - 1))


def declared_topics(settings: Settings) -> list[TopicDeclaration]:
    replicas = settings.replication_factor
    durable = {MIN_INSYNC: str(min_insync_replicas(replicas)), CLEANUP: "delete"}  # never compacted: all kept
    return [
        TopicDeclaration(
            LIFE_EVENTS,
            settings.life_events_partitions,
            replicas,
            {**durable, RETENTION: str(settings.replay_horizon_days * DAY_MS)},
        ),
        # Refused records hold raw agency input: kept long enough to repair and resend, not for ever (privacy.md).
        TopicDeclaration(
            DEAD_LETTERS, 1, replicas, {**durable, RETENTION: str(settings.dead_letter_retention_days * DAY_MS)}
        ),
    ]


@contextlib.contextmanager
def admin_client(bootstrap_servers: str) -> Iterator[KafkaAdminClient]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="beforeservice-topics")
    try:
        yield admin
    finally:
        admin.close()


def apply(admin: KafkaAdminClient, declarations: Sequence[TopicDeclaration]) -> list[str]:
    """Create the declared topics the cluster lacks, with their settings; the names of those created.
    Existing topics are left as they are (`check` says how they differ)."""
    existing = set(admin.list_topics())
    missing = [d for d in declarations if d.name not in existing]
    if missing:
        with contextlib.suppress(TopicAlreadyExistsError):  # another migration job created it meanwhile
            admin.create_topics([d.new_topic() for d in missing])
    return [d.name for d in missing]


def check(admin: KafkaAdminClient, declarations: Sequence[TopicDeclaration]) -> list[Finding]:
    """Every declared setting of every declared topic against what the cluster describes."""
    existing = set(admin.list_topics())
    present = [d for d in declarations if d.name in existing]
    findings = [Finding(d.name, "topic", "present", "missing", "missing") for d in declarations if d not in present]
    if not present:
        return findings
    described = {t["name"]: t for t in admin.describe_topics([d.name for d in present])}
    # "all": Apache Kafka then reports defaults too; tansu only what the topic was created or altered with.
    configs: dict[str, dict[str, Any]] = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, d.name) for d in present], config_filter="all"
    ).get("topic", {})
    for declaration in present:
        partitions = described[declaration.name]["partitions"]
        replicas = min((len(p["replica_nodes"]) for p in partitions), default=0)
        findings.append(_compare(declaration.name, "partitions", str(declaration.partitions), str(len(partitions))))
        findings.append(
            _compare(declaration.name, "replication factor", str(declaration.replication_factor), str(replicas))
        )
        reported = configs.get(declaration.name, {})
        for name, value in declaration.configs.items():
            actual = reported.get(name, {}).get("value") if name in reported else None
            findings.append(_compare(declaration.name, name, value, actual))
    return findings


def _compare(topic: str, setting: str, declared: str, actual: str | None) -> Finding:
    if actual is None:
        verdict: Verdict = "unknown"
    elif setting == RETENTION:  # at least the declared time: longer (or unlimited) keeps the replay possible
        verdict = "ok" if actual == UNLIMITED or (declared != UNLIMITED and int(actual) >= int(declared)) else "differs"
    else:
        verdict = "ok" if actual == declared else "differs"
    return Finding(topic, setting, declared, actual, verdict)


def exit_code(findings: Sequence[Finding]) -> int:
    """0: all as declared; 1: something differs or is missing; 2: nothing differs, but not everything was known."""
    verdicts = {f.verdict for f in findings}
    if verdicts & {"differs", "missing"}:
        return 1
    return 2 if "unknown" in verdicts else 0


topics_app = typer.Typer(
    help="Kafka topics as declared (beforeservice/topics.py): create the missing ones, or check the cluster.",
    no_args_is_help=True,
)


@topics_app.command("apply")
def apply_command() -> None:
    """Create the missing topics with the declared partitions, replicas and configs; then report any
    difference of the existing ones (exit 1 if something differs)."""
    settings = get_settings()
    declarations = declared_topics(settings)
    with admin_client(settings.bootstrap_servers) as admin:
        created = apply(admin, declarations)
        findings = check(admin, declarations)
    for declaration in declarations:
        if declaration.name in created:
            typer.echo(
                f"created  {declaration.name}: {declaration.partitions} partitions, "
                f"replication factor {declaration.replication_factor}, "
                + ", ".join(f"{k}={v}" for k, v in declaration.configs.items())
            )
    for finding in findings:
        if finding.verdict != "ok":
            typer.echo(finding.line(), err=finding.verdict in ("differs", "missing"))
    typer.echo(f"topics applied on {settings.bootstrap_servers}")
    if exit_code(findings) == 1:
        raise typer.Exit(1)


@topics_app.command("check")
def check_command() -> None:
    """Describe the topics and their configs and print each declared setting's verdict: ok, differs, missing,
    or unknown (the broker did not report it). Exit 0 all ok, 1 something differs, 2 something unknown."""
    settings = get_settings()
    with admin_client(settings.bootstrap_servers) as admin:
        findings = check(admin, declared_topics(settings))
    for finding in findings:
        typer.echo(finding.line())
    code = exit_code(findings)
    summary = {0: "as declared", 1: "DIFFERS from the declaration", 2: "nothing differs, but not all was reported"}
    typer.echo(f"topics on {settings.bootstrap_servers}: {summary[code]}")
    raise typer.Exit(code)
