"""`beforeservice`: one command line for the whole engine (typer)."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from beforeservice.console.cli import agencies_app, audit_app, caseworkers_app
from beforeservice.key_rotation import keys_app
from beforeservice.rebuild import rebuild_command
from beforeservice.restore import catch_up_command
from beforeservice.rules_cli import rules_app
from beforeservice.settings import Settings, get_settings
from beforeservice.startup import DATA_KEYS, start
from beforeservice.topics import topics_app

app = typer.Typer(help="Before Service: life events in, tailored benefit offers out.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
schemas_app = typer.Typer(help="Event contracts (JSON Schema).", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures (never timed tests).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(schemas_app, name="schemas")
app.add_typer(rules_app, name="rules")
app.add_typer(bench_app, name="bench")
app.add_typer(agencies_app, name="agencies")
app.add_typer(caseworkers_app, name="caseworkers")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")  # data keys sealing personal data at rest: generate, rotate, status
app.add_typer(topics_app, name="topics")  # Kafka topics as declared: apply, check
app.command("rebuild")(rebuild_command)  # the database from the retained life events
app.command("catch-up")(catch_up_command)  # a restored backup brought up to date from the retained life events


@bench_app.command(
    "notify", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False
)
def bench_notify(ctx: typer.Context) -> None:
    """Outbox dispatcher throughput and p99 outbox-to-accepted latency against a local FCM peer process
    (--messages, --rate, --seconds, --database-url, --processes, --paths; --help lists them)."""
    from beforeservice.bench.notify import main
    from beforeservice.bootstrap import configure_keyring

    configure_keyring(get_settings())  # the outboxes it fills are sealed
    main(ctx.args)  # one set of options, parsed where the benchmark lives


@bench_app.command("app")
def bench_citizen_app(
    runs: Annotated[int, typer.Option(help="cold loads of each page (the median is printed)")] = 3,
    chromium: Annotated[str, typer.Option(help="the Chromium to drive (Playwright, dev extra)")] = "/usr/bin/chromium",
) -> None:
    """Citizens' app: total JavaScript compressed, and first inbox paint on a throttled 4G phone against a
    reference page measured in the same run (a throwaway SQLite database; nothing else is touched)."""
    from beforeservice.bench.app import report, run
    from beforeservice.bench.rules import machine

    typer.echo(f"machine: {machine()}")
    typer.echo("\n".join(report(run(chromium, runs))))


@bench_app.command("pipeline")
def bench_pipeline(
    events: Annotated[int, typer.Option(help="synthetic life events for the throughput runs")] = 20_000,
    rate: Annotated[
        list[float] | None, typer.Option(help="births/s offered in a latency run; repeat for several [default: 2000]")
    ] = None,
    seconds: Annotated[float, typer.Option(help="length of the latency run (0 skips it)")] = 10.0,
    people: Annotated[int, typer.Option(help="synthetic population seeded first")] = 50_000,
    seed: Annotated[int, typer.Option(help="population and event seed")] = 7,
) -> None:
    """Engine end to end vs a raw aiokafka ceiling and a one-event-at-a-time Faust peer (PostgreSQL)."""
    from beforeservice.bench.pipeline import run, table
    from beforeservice.bench.rules import machine
    from beforeservice.bootstrap import configure_keyring

    configure_keyring(get_settings())  # the schemas it seeds are sealed

    typer.echo(f"machine: {machine()}")
    typer.echo(table(run(get_settings().database_url, events, rate or [2000.0], seconds, people, seed)))


@bench_app.command("rebuild")
def bench_rebuild(
    births: Annotated[int, typer.Option(help="synthetic births on the embedded broker")] = 10_000,
    seed: Annotated[int, typer.Option(help="event seed")] = 7,
    batch_size: Annotated[int, typer.Option(help="records per batch of the rebuild (the worker takes 500)")] = 500,
) -> None:
    """`beforeservice rebuild` of synthetic births into DATABASE_URL (PostgreSQL; its schema is EMPTIED first)."""
    from beforeservice.bench.rebuild import run
    from beforeservice.bench.rules import machine

    typer.echo(f"machine: {machine()}")
    typer.echo(run(get_settings().database_url, births, seed, batch_size=batch_size))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to DATABASE_URL."""
    from beforeservice.bootstrap import Process

    process = Process(start(get_settings(), [DATA_KEYS], data_dir=False))  # existing rows are sealed with DATA_KEYS
    process.migrated().close()
    typer.echo("database schema is up to date")


@rules_app.command("backfill")
def rules_backfill(
    benefit: str,
    on: Annotated[str | None, typer.Option(help="evaluation date, YYYY-MM-DD (default: today)")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="shadow mode: report counts and a sample, write nothing")
    ] = False,
) -> None:
    """Find everyone in the profile store entitled to BENEFIT, in SQL; insert their offers unless --dry-run."""
    from datetime import date

    from beforeservice.bootstrap import command_process
    from entitlements import CATALOG_DIR
    from entitlements.persistence.sweep import backfill
    from rules_engine.loader import load_catalog
    from rules_engine.sql import NotTranslatable

    catalog = load_catalog(CATALOG_DIR)
    if benefit not in catalog.benefits:
        typer.echo(f"error: unknown benefit '{benefit}'", err=True)
        raise typer.Exit(1)
    when = date.fromisoformat(on) if on else date.today()
    if not catalog.benefits[benefit].in_force(when):
        typer.echo(f"error: '{benefit}' is not in force on {when}", err=True)
        raise typer.Exit(1)
    engine = command_process(start(get_settings(), [DATA_KEYS], umask=False)).engine  # offers are sealed
    try:
        with engine.begin() as connection:
            report = backfill(connection, catalog.benefits[benefit], when, dry_run=dry_run)
    except NotTranslatable as error:
        typer.echo(f"error: {benefit} cannot be swept in SQL: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"{benefit} on {when}{' (dry run: nothing written)' if dry_run else ''}")
    typer.echo(f"{'municipality':<14}{'eligible':>10}{'undetermined':>14}")
    for code, counts in sorted(report.by_municipality.items(), key=lambda item: item[0] or ""):
        typer.echo(f"{code or '(unknown)':<14}{counts.get('eligible', 0):>10}{counts.get('undetermined', 0):>14}")
    typer.echo(f"{'total':<14}{report.total_of('eligible'):>10}{report.total_of('undetermined'):>14}")
    typer.echo("sample:")
    for row in report.sample:
        typer.echo("  " + json.dumps(row, default=str, ensure_ascii=False))
    if not dry_run:
        typer.echo(f"inserted {report.inserted} entitlements (existing offers of {benefit} skipped)")


@app.command()
def synth(
    people: Annotated[int, typer.Option(help="citizens to generate")] = 100_000,
    seed: Annotated[int, typer.Option(help="same seed, same population")] = 7,
) -> None:
    """Load a synthetic population with realistic Korean distributions into DATABASE_URL."""
    from beforeservice.bench import synth as synthetic
    from beforeservice.bootstrap import command_process
    from entitlements.persistence.sweep import CITIZENS, HOUSEHOLDS

    engine = command_process(get_settings()).engine
    started = time.perf_counter()
    with engine.begin() as connection:
        loaded = synthetic.load(connection, HOUSEHOLDS, CITIZENS, synthetic.households(people, seed=seed))
    typer.echo(f"loaded {loaded} citizens (seed {seed}) in {time.perf_counter() - started:.1f} s")


@bench_app.command("rules")
def bench_rules(
    people: Annotated[int, typer.Option(help="synthetic citizens for the sweep")] = 1_000_000,
    benefit: Annotated[str, typer.Option(help="benefit to backfill")] = "child_allowance",
    on: Annotated[str, typer.Option(help="evaluation date")] = "2025-06-30",
    repeat: Annotated[int, typer.Option(help="evaluations per timing")] = 50_000,
    seed: Annotated[int, typer.Option(help="synthetic population seed")] = 1000,
) -> None:
    """Catalog evaluation (compiled vs interpreted) and a population backfill in the database; figures only."""
    from datetime import date

    from beforeservice.bench import rules as bench
    from beforeservice.bootstrap import command_process
    from entitlements import CATALOG_DIR
    from rules_engine.loader import load_catalog

    engine = command_process(get_settings()).engine  # first: a database it cannot use fails before the timings
    when = date.fromisoformat(on)
    catalog = load_catalog(CATALOG_DIR)
    birth = len([b for b in catalog.by_trigger.get(bench.BIRTH, ()) if b.in_force(when)])
    typer.echo(f"machine: {bench.machine()}")
    compiled, varied, interpreted = bench.catalog_timings(catalog, when, repeat, seed)
    for label, t in (
        ("compiled, one household", compiled),
        ("compiled, 1,000 varied households", varied),
        ("interpreted (reference)", interpreted),
    ):
        typer.echo(
            f"birth catalog ({birth} benefits), {label:<34} median {t.median_us:7.1f} µs  "
            f"p99 {t.p99_us:7.1f} µs  {t.per_second:9,.0f} events/s"
        )
    typer.echo(f"compiled / interpreted speed-up: {interpreted.median_us / varied.median_us:.1f}x")
    present, loaded_in = bench.ensure_population(engine, people, seed, when)
    if loaded_in is not None:
        typer.echo(f"synthesised {present:,} citizens in {loaded_in:.1f} s")
    dry, real, found, inserted = bench.sweep_timings(engine, catalog, benefit, when)
    typer.echo(
        f"backfill {benefit} over {present:,} citizens ({engine.dialect.name}): dry run {dry:.2f} s "
        f"({found:,} eligible or undetermined), real run {real:.2f} s ({inserted:,} rows, rolled back)"
    )


@schemas_app.command("export")
def schemas_export(directory: Path) -> None:
    """Write the JSON Schema of every event type's data, of the what-if situation file, and the API's OpenAPI
    document into DIRECTORY."""
    from beforeservice.api import published
    from entitlements.situations import export_json_schema
    from events.contracts import export_json_schemas

    for path in [*export_json_schemas(directory), export_json_schema(directory), published.export(directory)]:
        typer.echo(path)


@app.command()
def worker(loglevel: str = "warn") -> None:
    """Run one Faust worker (start several to scale; partitions are shared among them)."""
    from beforeservice.bootstrap import observe

    observe("worker", start(get_settings()))
    if importlib.util.find_spec("uvloop"):
        # Faust's cost per event is mostly event-loop work (tasks, futures, callbacks), which uvloop does in C
        # (events/s through take_events with and without it: docs/benchmarks.md, pipeline). Chosen before the
        # Faust app (and its loop) exists.
        import mode.loop

        mode.loop.use("uvloop")
    from beforeservice.worker import app as faust_app
    from beforeservice.worker import process

    process.with_schema()

    settings = get_settings()
    quiet = []
    if settings.log_format == "json":  # every line of output is JSON: no banner, and no spinner (below WARN)
        quiet = ["--quiet"]
        loglevel = "debug" if settings.log_level == "DEBUG" else "info"  # LOG_LEVEL filters (beforeservice/logs.py)
    sys.argv = ["beforeservice-worker", *quiet, "worker", "--loglevel", loglevel, "--without-web"]
    faust_app.main()


@app.command()
def dispatcher() -> None:
    """Run an outbox dispatcher (several may run: rows are claimed with SKIP LOCKED on PostgreSQL)."""
    from beforeservice.bootstrap import observe
    from beforeservice.dispatcher import run_dispatcher

    settings = start(get_settings())
    observe("dispatcher", settings)
    run_dispatcher(settings)


@app.command()
def api() -> None:
    """Run the HTTP API."""
    import uvicorn

    from beforeservice.api.app import create_app
    from beforeservice.bootstrap import observe

    settings = start(get_settings())
    observe("api", settings)
    # proxy_headers off: uvicorn would believe X-Forwarded-For from any local hop; the client address is read
    # in beforeservice.auth.client_ip, from TRUSTED_PROXIES only.
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_level="warning",
        log_config=None,  # the root logger's, as configured by `observe` (LOG_FORMAT)
        proxy_headers=False,
    )


@app.command()
def scheduler() -> None:
    """Run the scheduler: one runs the jobs; any other stands by until it stops (a database lease)."""
    from beforeservice.bootstrap import observe
    from beforeservice.scheduler import run_scheduler

    settings = start(get_settings())
    observe("scheduler", settings)
    raise typer.Exit(run_scheduler(settings))


@app.command()
def send(path: Path, binary: Annotated[bool, typer.Option(help="Kafka binary content mode")] = False) -> None:
    """Produce the CloudEvent(s) in a JSON file (an object or a list) to `life-events`, as an agency would."""
    from events.cloudevents import CloudEvent
    from events.producer import AgencyProducer

    raw = json.loads(path.read_text())
    producer = AgencyProducer(get_settings().bootstrap_servers)
    for item in raw if isinstance(raw, list) else [raw]:
        producer.send(CloudEvent.model_validate(item), binary=binary)
    producer.flush()
    producer.close()


@app.command()
def demo(births: int = 12, seed: int = 7) -> None:
    """Seed a synthetic population and feed demo birth registrations through Kafka."""
    from beforeservice.demo import run_demo

    settings = start(get_settings())
    for line in run_demo(settings, births=births, seed=seed):
        typer.echo(line)


@app.command()
def up(demo: Annotated[bool, typer.Option(help="feed demo births and show the offers")] = True) -> None:
    """Start everything on embedded defaults: broker (unless KAFKA_BOOTSTRAP_SERVERS), database, worker, API,
    scheduler. Ctrl-C stops it all."""
    from beforeservice.bootstrap import Process
    from beforeservice.broker import EmbeddedBroker, ensure_topics

    settings = start(get_settings())  # the children inherit the private umask (and run the same check)
    data_dir = Path(settings.data_dir)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops everything as cleanly as Ctrl-C
    broker = None
    env = dict(os.environ)
    if not settings.kafka_bootstrap_servers:
        broker = EmbeddedBroker(settings.embedded_broker_port, log_file=data_dir / "broker.log")
        broker.start()
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        typer.echo(f"broker    tansu (embedded, in-memory) on {broker.bootstrap_servers}")
    children: list[subprocess.Popen[bytes]] = []
    if settings.dev_mode and not settings.citizen_oidc_issuer:  # the citizens' app signs in at a local provider
        children.append(_local_oidc_provider(settings, data_dir, env))
    try:
        Process(settings).migrated().close()  # before the children start: they find the schema ready
        typer.echo(f"database  {settings.database_url}")
        ensure_topics(
            env.get("KAFKA_BOOTSTRAP_SERVERS", settings.bootstrap_servers),
            settings.life_events_partitions,
            settings.replication_factor,
        )
        for name in ("worker", "api", "scheduler"):
            log = open(data_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "beforeservice", name], env=env, stdout=log, stderr=subprocess.STDOUT
                )
            )
            typer.echo(f"{name:<9} started (log: {data_dir / (name + '.log')})")
        base = f"http://{settings.api_host}:{settings.api_port}"
        _wait_http(f"{base}/healthz", children)
        typer.echo(f"api       {base}/docs  (metrics: {base}/metrics)")
        if demo:
            from beforeservice.demo import run_demo

            for line in run_demo(
                settings.model_copy(update={"kafka_bootstrap_servers": env.get("KAFKA_BOOTSTRAP_SERVERS")}),
                births=12,
                seed=7,
                api_base=base,
            ):
                typer.echo(line)
        typer.echo(f"app       {base}/app/  (the citizens' app; sign in as a demo parent above, e.g. the first one)")
        typer.echo("running — press Ctrl-C to stop")
        while all(c.poll() is None for c in children):
            time.sleep(0.5)
        typer.echo("a component stopped unexpectedly; see the logs in " + str(data_dir), err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        typer.echo("stopping…")
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if broker:
            broker.stop()
        typer.echo("stopped")


def _local_oidc_provider(settings: Settings, data_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """DEV_MODE only: the local test OIDC provider; the children are told its issuer."""
    from beforeservice.citizen_app import local_provider
    from beforeservice.demo import synthetic_families

    # The demo's mothers as one-tap subjects on the provider's page (the same families `up --demo` seeds).
    mothers = tuple(f.parents[0][0] for f in synthetic_families(3, 7, date.today()))
    log = open(data_dir / "oidc.log", "ab")  # noqa: SIM115 - handed to the child
    provider = local_provider.start(settings.local_oidc_port, log, users=mothers)
    env["CITIZEN_OIDC_ISSUER"] = local_provider.issuer_url(settings.local_oidc_port)
    env.setdefault("CITIZEN_OIDC_CLIENT_SECRET", "dev-only-local-provider-secret")  # it accepts any secret
    typer.echo(f"oidc      {env['CITIZEN_OIDC_ISSUER']} (local test provider: tap a demo parent to sign in)")
    return provider


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _wait_http(url: str, children: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c.poll() is not None for c in children):
            raise RuntimeError("a component exited during start-up; see its log")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


if __name__ == "__main__":
    app()
