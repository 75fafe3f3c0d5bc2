"""`beforeservice`: one command line for the whole engine (typer)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from beforeservice.rules_cli import rules_app
from beforeservice.settings import get_settings

app = typer.Typer(help="Before Service: life events in, tailored benefit offers out.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
schemas_app = typer.Typer(help="Event contracts (JSON Schema).", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks that print figures (never timed tests).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(schemas_app, name="schemas")
app.add_typer(rules_app, name="rules")
app.add_typer(bench_app, name="bench")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the Alembic migrations to DATABASE_URL."""
    from beforeservice.database import make_engine, upgrade

    upgrade(make_engine(get_settings().database_url))
    typer.echo("database schema is up to date")


@schemas_app.command("export")
def schemas_export(directory: Path) -> None:
    """Write the JSON Schema of every event type's data into DIRECTORY."""
    from events.contracts import export_json_schemas

    for path in export_json_schemas(directory):
        typer.echo(path)


@app.command()
def topics() -> None:
    """Create the Kafka topics if missing."""
    from beforeservice.broker import ensure_topics

    settings = get_settings()
    ensure_topics(settings.bootstrap_servers, settings.life_events_partitions)
    typer.echo(f"topics ready on {settings.bootstrap_servers}")


@app.command()
def worker(loglevel: str = "warn") -> None:
    """Run one Faust worker (start several to scale; partitions are shared among them)."""
    from beforeservice.worker import app as faust_app

    sys.argv = ["beforeservice-worker", "worker", "--loglevel", loglevel, "--without-web"]
    faust_app.main()


@app.command()
def api() -> None:
    """Run the HTTP API."""
    import uvicorn

    from beforeservice.api import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port, log_level="warning")


@app.command()
def scheduler() -> None:
    """Run the scheduler (run exactly one)."""
    from beforeservice.scheduler import build_scheduler

    build_scheduler(get_settings()).start()


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

    settings = get_settings()
    for line in run_demo(settings, births=births, seed=seed):
        typer.echo(line)


@app.command()
def up(demo: Annotated[bool, typer.Option(help="feed demo births and show the offers")] = True) -> None:
    """Start everything on embedded defaults: broker (unless KAFKA_BOOTSTRAP_SERVERS), database, worker, API,
    scheduler. Ctrl-C stops it all."""
    from beforeservice.broker import EmbeddedBroker, ensure_topics
    from beforeservice.database import make_engine, upgrade

    settings = get_settings()
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops everything as cleanly as Ctrl-C
    broker = None
    env = dict(os.environ)
    if not settings.kafka_bootstrap_servers:
        broker = EmbeddedBroker(settings.embedded_broker_port, log_file=data_dir / "broker.log")
        broker.start()
        env["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap_servers
        typer.echo(f"broker    tansu (embedded, in-memory) on {broker.bootstrap_servers}")
    children: list[subprocess.Popen[bytes]] = []
    try:
        upgrade(make_engine(settings.database_url))
        typer.echo(f"database  {settings.database_url}")
        ensure_topics(env.get("KAFKA_BOOTSTRAP_SERVERS", settings.bootstrap_servers), settings.life_events_partitions)
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
