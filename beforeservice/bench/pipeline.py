"""`beforeservice bench pipeline`: the engine end to end against its ceiling and a naive peer, on one topic.

1. engine: the real worker (`python -m beforeservice worker`): consume -> profile -> rules -> entitlements and
   outbox committed to PostgreSQL, in batches; sustained events/s, then event-to-FCM-accepted p50/p99 at a fixed
   offered load (the worker's outbox timer pushing to a local FCM peer), and the worker's peak RSS;
2. ceiling: a raw aiokafka `getmany` loop that only decodes (json.loads) the same records;
3. peer: a straightforward Faust agent doing the same work one event at a time, one transaction per event.

The events are synthetic life events over a synthetic population loaded first (births mostly; deaths, moves,
job losses and disability registrations of known people). Engine and peer each get a fresh PostgreSQL schema
(same population, same events), so neither finds the other's work already done. Prints figures; asserts nothing.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from beforeservice.bench import synth
from beforeservice.bench.notify import _service_account, register_phones, serve_fcm
from beforeservice.broker import EmbeddedBroker, ensure_topics, free_port
from beforeservice.database import make_engine
from entitlements.persistence.sweep import CITIZENS, HOUSEHOLDS
from entitlements.persistence.tables import ProcessedEventRow
from events.topics import DEAD_LETTERS, LIFE_EVENTS
from notifiers.tables import NotificationRow

PARTITIONS = 4
ENGINE, PEER, CEILING = "engine (batched worker)", "peer (Faust, one event at a time)", "ceiling (aiokafka getmany)"
ON = date(2025, 6, 30)
SHARES = (("birth", 0.85), ("death", 0.04), ("move", 0.04), ("employment", 0.04), ("disability", 0.03))


@dataclass
class Figures:
    name: str
    events: int
    per_second: float
    p50_ms: float | None = None
    p99_ms: float | None = None
    peak_rss_mb: float | None = None
    note: str = ""
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU milliseconds per event, by process


# -- the synthetic stream ----------------------------------------------------------------------------------


def population(people: int, seed: int) -> list[synth.Household]:
    return list(synth.households(people, seed=seed, on=ON))


def _envelope(event_type: str, source: str, data: dict[str, Any], subject: str | None) -> dict[str, Any]:
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "time": "2025-06-30T09:00:00+09:00",
        "data": data,
    }
    if subject:
        event["subject"] = subject
    return event


def life_events(households: list[synth.Household], count: int, seed: int, tag: str) -> Iterator[tuple[bytes, bytes]]:
    """(key, structured CloudEvent) pairs: births into known households, other events about known people."""
    rng = random.Random(seed)
    kinds, weights = [k for k, _ in SHARES], [w for _, w in SHARES]
    dead: set[str] = set()
    for i in range(count):
        household = households[rng.randrange(len(households))]
        row = household.row
        code = row["municipality_code"]
        members = [m for m in household.members if m["id"] not in dead]
        adults = [m for m in members if m["role"] != "child" and m["birth_date"] is not None]
        kind = rng.choices(kinds, weights)[0] if adults else "birth"
        if kind == "birth" or not adults:
            parents = [m for m in members if m["role"] in ("parent", "head", "spouse")][:2] or adults[:1]
            child = f"{tag}-c{i}"
            data: dict[str, Any] = {
                "child": {"id": child, "birth_date": "2025-06-20"},
                "parents": [{"id": p["id"], "role": "mother" if n == 0 else "father"} for n, p in enumerate(parents)]
                or [{"id": f"{tag}-m{i}", "role": "mother"}],
                "birth_order": 1 + sum(1 for m in members if m["role"] == "child"),
                "municipality_code": code,
                "registered_on": "2025-06-25",
            }
            yield (
                data["parents"][0]["id"].encode(),
                _dump(_envelope("kr.go.mois.birth.registered", f"/agencies/mois/registry/{code}", data, child)),
            )
        elif kind == "death":
            person = rng.choice(adults)
            dead.add(person["id"])
            data = {
                "deceased": {"id": person["id"], "birth_date": str(person["birth_date"]), "death_date": "2025-06-20"},
                "municipality_code": code,
                "registered_on": "2025-06-24",
            }
            yield (
                person["id"].encode(),
                _dump(_envelope("kr.go.mois.death.registered", f"/agencies/mois/registry/{code}", data, person["id"])),
            )
        elif kind == "move":
            to = rng.choice([c for c, _ in synth.MUNICIPALITIES if c != code])
            movers = [m["id"] for m in members][:20]
            data = {
                "movers": movers,
                "from_municipality_code": code,
                "to_municipality_code": to,
                "moved_on": "2025-06-20",
                "registered_on": "2025-06-21",
            }
            yield (
                movers[0].encode(),
                _dump(_envelope("kr.go.mois.address.moved", f"/agencies/mois/registry/{to}", data, None)),
            )
        else:
            person = rng.choice(adults)
            who = {"id": person["id"], "birth_date": str(person["birth_date"])}
            if kind == "employment":
                data = {
                    "person": who,
                    "separated_on": "2025-06-15",
                    "separation_reason": rng.choice(["involuntary", "voluntary"]),
                    "insured_days": rng.randrange(0, 900),
                    "average_daily_wage": rng.randrange(60_000, 250_000),
                    "municipality_code": code,
                }
                event = _envelope(
                    "kr.go.moel.employment.lost", "/agencies/moel/employment-insurance", data, person["id"]
                )
            else:
                data = {
                    "person": who,
                    "severity": rng.choice(["severe", "mild"]),
                    "registered_on": "2025-06-20",
                    "municipality_code": code,
                }
                event = _envelope(
                    "kr.go.mohw.disability.registered", "/agencies/mohw/disability-registry", data, person["id"]
                )
            yield person["id"].encode(), _dump(event)


def _dump(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


# -- databases, broker, processes ------------------------------------------------------------------------


def schema_url(database_url: str, schema: str) -> str:
    """The same database with `schema` first on the search path (engine and peer never share rows)."""
    url = make_url(database_url)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def _upgrade(engine: Engine) -> None:
    """database.upgrade, with the URL's '%' escaped for Alembic's config parser (the search_path option)."""
    from alembic import command
    from alembic.config import Config

    from beforeservice.database import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")


def fresh_schema(database_url: str, schema: str, households: list[synth.Household]) -> Engine:
    admin = make_engine(database_url)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    engine = make_engine(schema_url(database_url, schema))
    _upgrade(engine)
    with engine.begin() as connection:
        synth.load(connection, HOUSEHOLDS, CITIZENS, households)
        connection.exec_driver_sql("ANALYZE")
    return engine


def processed(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(ProcessedEventRow)) or 0)


def commit_span(engine: Engine) -> float:
    """Seconds between the first and the last committed batch (the worker's own clock)."""
    with engine.connect() as connection:
        first, last = connection.execute(
            select(func.min(ProcessedEventRow.processed_at), func.max(ProcessedEventRow.processed_at))
        ).one()
    return max((last - first).total_seconds(), 1e-3)


def dead_lettered(bootstrap: str) -> int:
    """Records on the dead-letter topic (events that contradict the profile store are refused there)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        return sum(consumer.end_offsets([TopicPartition(DEAD_LETTERS, 0)]).values())
    finally:
        consumer.close()


def done(engine: Engine, bootstrap: str, events: int, dead_before: int) -> bool:
    return processed(engine) + dead_lettered(bootstrap) - dead_before >= events


def produce(bootstrap: str, records: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024)
    for key, value in records:
        producer.send(LIFE_EVENTS, key=key, value=value)
    producer.flush(timeout=300)
    producer.close()


def engine_env(bootstrap: str, database_url: str, workdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_", "FIREBASE_", "FCM_"))}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "DATABASE_URL": database_url,
            "WORKER_ID": f"bench-{uuid.uuid4().hex[:8]}",
            "WORKER_METRICS_PORT": "0",
            "LIFE_EVENTS_PARTITIONS": str(PARTITIONS),
            "DATA_DIR": str(workdir / uuid.uuid4().hex[:6]),
            "QUIET_HOURS_START": "0",
            "QUIET_HOURS_END": "0",
            "PUSH_BUDGET_PER_WEEK": "1000000",
            "GOOGLE_AUTH_TRUST_BOUNDARY_ENABLED": "false",
            "DEV_MODE": "true",  # synthetic data only: the engine's start-up check allows the dev secrets
            **extra,
        }
    )
    return env


def _wait(predicate: Any, process: subprocess.Popen[bytes], timeout: float, what: str, poll: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: timed out after {timeout:.0f} s")
        time.sleep(poll)


class RssWatch:
    """Peak resident set size of a process, sampled every 100 ms in a thread."""

    def __init__(self, pid: int) -> None:
        import threading

        import psutil

        self.peak = 0
        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            try:
                self.peak = max(self.peak, self._process.memory_info().rss)
            except Exception:  # the process ended
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(1)
        return self.peak / 2**20


_SHARED = {"postgres": "PostgreSQL", "tansu": "broker (tansu)"}  # processes counted by name


class CpuAccount:
    """CPU seconds spent between construction and `per_event`: by the named processes (all their threads), by
    PostgreSQL's processes and the broker (found by name), and by the whole machine (every core busy)."""

    def __init__(self, processes: dict[str, int]) -> None:
        import psutil

        self._processes = {name: psutil.Process(pid) for name, pid in processes.items()}
        self._start = {name: self._used(p) for name, p in self._processes.items()}
        self._shared_start = self._shared()
        self._machine = self._busy()

    @staticmethod
    def _used(process: Any) -> float:
        times = process.cpu_times()
        return float(times.user + times.system)

    @classmethod
    def _shared(cls) -> dict[int, tuple[str, float]]:
        import psutil

        found: dict[int, tuple[str, float]] = {}
        for process in psutil.process_iter(["name"]):
            label = next((v for k, v in _SHARED.items() if (process.info["name"] or "").startswith(k)), None)
            if label is None:
                continue
            try:
                found[process.pid] = (label, cls._used(process))
            except Exception:  # ended meanwhile
                continue
        return found

    @staticmethod
    def _busy() -> float:
        import psutil

        times = psutil.cpu_times()
        return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))

    def per_event(self, events: int) -> dict[str, float]:
        """Milliseconds of CPU per event: each named process, PostgreSQL, the broker, the rest of the machine
        (other processes, the kernel, PostgreSQL backends that ended meanwhile) and the total."""
        spent: dict[str, float] = {}
        for name, process in self._processes.items():
            try:
                spent[name] = self._used(process) - self._start[name]
            except Exception:  # the process ended before it was read: its share is counted in "rest"
                spent[name] = 0.0
        for pid, (label, used) in self._shared().items():
            before = self._shared_start.get(pid, (label, 0.0))[1]  # a process started meanwhile counts whole
            spent[label] = spent.get(label, 0.0) + used - before
        total = self._busy() - self._machine
        spent["rest (OS, other processes)"] = max(0.0, total - sum(spent.values()))
        spent["machine total"] = total
        return {name: seconds * 1000 / max(1, events) for name, seconds in spent.items()}


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- the three measurements ------------------------------------------------------------------------------


def run_engine(
    bootstrap: str, database_url: str, households: list[synth.Household], events: int, workdir: Path
) -> Figures:
    """The topic already holds `events` records; a new worker (new group) reads them from offset 0."""
    engine = fresh_schema(database_url, "bench_engine", households)
    # The worker alone (as deployed at scale): sending is the dispatcher's work, measured by `bench notify`.
    env = engine_env(bootstrap, schema_url(database_url, "bench_engine"), workdir, WORKER_DISPATCHES_OUTBOX="false")
    dead_before = dead_lettered(bootstrap)
    worker = subprocess.Popen([sys.executable, "-m", "beforeservice", "worker"], env=env, stdout=subprocess.DEVNULL)
    rss = RssWatch(worker.pid)
    try:
        # CPU is counted from the first commit (start-up and the group join excluded) to the last.
        _wait(lambda: processed(engine) > 0, worker, 600, "engine start", poll=0.02)
        cpu, first = CpuAccount({"worker": worker.pid}), processed(engine)
        _wait(lambda: done(engine, bootstrap, events, dead_before), worker, 3600, "engine throughput")
        cpu_ms = cpu.per_event(events - first)
        span, refused = commit_span(engine), dead_lettered(bootstrap) - dead_before
    finally:
        _stop(worker)
    peak = rss.stop()
    engine.dispose()
    return Figures(ENGINE, events, events / span, peak_rss_mb=peak, note=f"({refused} refused)", cpu_ms=cpu_ms)


def run_latency(
    bootstrap: str, database_url: str, households: list[synth.Household], rate: float, seconds: float, workdir: Path
) -> Figures:
    """Births at `rate`/s to mothers with a phone and push consent; event produced -> FCM peer accepted."""
    port = free_port()
    fcm = multiprocessing.get_context("spawn").Process(target=serve_fcm, args=(port,), daemon=True)
    fcm.start()
    engine = make_engine(schema_url(database_url, "bench_engine"))
    count = int(rate * seconds)
    tag = f"lat{uuid.uuid4().hex[:6]}"
    mothers = [f"{tag}-m{i}" for i in range(count)]
    now = datetime.now(UTC)
    with engine.begin() as connection:
        register_phones(connection, mothers, "t-", now)
        connection.exec_driver_sql("ANALYZE")  # as autovacuum would have: no plan guessed on empty statistics
    credentials = _service_account(workdir, f"http://127.0.0.1:{port}/token")
    env = engine_env(
        bootstrap,
        schema_url(database_url, "bench_engine"),
        workdir,
        FIREBASE_CREDENTIALS=str(credentials),
        FCM_ENDPOINT=f"http://127.0.0.1:{port}",
        WORKER_BATCH_SECONDS="0.05",
        WORKER_DISPATCHES_OUTBOX="false",  # a dispatcher process of its own sends, as in docker-compose.yml
    )
    before = processed(engine)
    worker = subprocess.Popen([sys.executable, "-m", "beforeservice", "worker"], env=env, stdout=subprocess.DEVNULL)
    dispatcher = subprocess.Popen(
        [sys.executable, "-m", "beforeservice", "dispatcher"], env=env, stdout=subprocess.DEVNULL
    )
    sent_at: dict[str, float] = {}
    try:
        # Warm up: the worker has joined its group and the FCM client its token before the clock starts.
        produce(bootstrap, [(b"warm", _dump(_birth(f"{tag}-warm", tag)))])
        _wait(lambda: processed(engine) > before, worker, 300, "latency warm-up")
        from kafka import KafkaProducer

        # As an agency's producer would: records lingering up to 5 ms share a request (one request per record
        # cost this process and the broker more CPU than the worker spent per event). The linger is part of
        # the measured latency: the clock starts before send().
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
        assert fcm.pid is not None
        cpu = CpuAccount(
            {
                "worker": worker.pid,
                "dispatcher": dispatcher.pid,
                "FCM peer": fcm.pid,
                "producer (this process)": os.getpid(),
            }
        )
        started = time.monotonic()
        for i, mother in enumerate(mothers):
            event = _birth(mother, tag)
            pause = started + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sent_at[event["id"]] = time.time()
            producer.send(LIFE_EVENTS, key=mother.encode(), value=_dump(event))
        producer.flush()
        producer.close()
        offered = count / (time.monotonic() - started)

        def arrivals() -> dict[str, float]:
            return dict(httpx.get(f"http://127.0.0.1:{port}/arrivals", timeout=30).json())

        _wait(lambda: len(arrivals()) >= count, worker, 1800, "latency run")
        cpu_ms = cpu.per_event(count)
        with engine.connect() as connection:
            event_of = dict(
                connection.execute(
                    select(NotificationRow.id, NotificationRow.event_id).where(
                        NotificationRow.recipient_id.in_(mothers)
                    )
                ).all()
            )
        got = arrivals()
    finally:
        _stop(worker)
        _stop(dispatcher)
        fcm.terminate()
        engine.dispose()
    latencies = sorted((got[n] - sent_at[e]) * 1000 for n, e in event_of.items() if n in got and e in sent_at)
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Figures(
        "engine latency",
        len(latencies),
        offered,
        p50_ms=p50,
        p99_ms=p99,
        note=f"offered {offered:,.0f}/s",
        cpu_ms=cpu_ms,
    )


def _birth(mother: str, tag: str) -> dict[str, Any]:
    child = f"{mother}-c"
    return _envelope(
        "kr.go.mois.birth.registered",
        "/agencies/mois/registry/41110",
        {
            "child": {"id": child, "birth_date": "2025-06-20"},
            "parents": [{"id": mother, "role": "mother"}],
            "birth_order": 1,
            "municipality_code": "41110",
            "registered_on": "2025-06-25",
        },
        child,
    )


def run_ceiling(bootstrap: str, events: int) -> Figures:
    async def read() -> float:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            LIFE_EVENTS, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            seen, started = 0, 0.0
            while seen < events:
                batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
                if not started and batches:
                    started = time.perf_counter()
                for records in batches.values():
                    for record in records:
                        json.loads(record.value)
                    seen += len(records)
            return seen / (time.perf_counter() - started)
        finally:
            await consumer.stop()

    return Figures(CEILING, events, asyncio.run(read()))


def run_peer(
    bootstrap: str, database_url: str, households: list[synth.Household], events: int, workdir: Path
) -> Figures:
    engine = fresh_schema(database_url, "bench_peer", households)
    env = engine_env(bootstrap, schema_url(database_url, "bench_peer"), workdir)
    dead_before = dead_lettered(bootstrap)
    peer = subprocess.Popen(
        [sys.executable, "-m", "beforeservice.bench.pipeline", "peer", "worker", "-l", "warn"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    rss = RssWatch(peer.pid)
    try:
        _wait(lambda: done(engine, bootstrap, events, dead_before), peer, 7200, "peer throughput")
        span, refused = commit_span(engine), dead_lettered(bootstrap) - dead_before
    finally:
        _stop(peer)
    peak = rss.stop()
    engine.dispose()
    return Figures(
        "peer (Faust, one event at a time)", events, events / span, peak_rss_mb=peak, note=f"({refused} refused)"
    )


def peer_app() -> Any:
    """The straightforward Faust agent: each event decoded, matched and committed in its own transaction."""
    from beforeservice.bootstrap import processor
    from beforeservice.faust_app import raw_topic, worker_app
    from beforeservice.settings import get_settings
    from entitlements.batch import Record

    settings = get_settings()
    app = worker_app(settings)  # the worker's own consumer settings: only the work per event differs
    topic, dead = raw_topic(app, LIFE_EVENTS), raw_topic(app, DEAD_LETTERS)
    work = processor(settings)

    @app.agent(topic)
    async def one_at_a_time(stream: Any) -> None:
        async for event in stream.events():
            m = event.message
            result = work.process([Record(m.topic, m.partition, m.offset, m.key, m.value, list(m.headers or []))])
            for letter in result.dead_letters:
                await dead.send(value=letter.model_dump_json().encode())

    return app


# -- the run and its table ---------------------------------------------------------------------------------


def run(
    database_url: str, events: int, rates: Sequence[float], seconds: float, people: int, seed: int
) -> list[Figures]:
    if make_url(database_url).get_backend_name() != "postgresql":
        raise SystemExit("bench pipeline measures PostgreSQL: set DATABASE_URL to a PostgreSQL database")
    households = population(people, seed)
    stream = list(life_events(households, events, seed, f"b{seed}"))
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(free_port()) as broker:
        workdir = Path(tmp)
        ensure_topics(broker.bootstrap_servers, PARTITIONS)
        produce(broker.bootstrap_servers, stream)
        figures = [run_ceiling(broker.bootstrap_servers, events)]
        figures.append(run_engine(broker.bootstrap_servers, database_url, households, events, workdir))
        figures.append(run_peer(broker.bootstrap_servers, database_url, households, events, workdir))
        for rate in rates if seconds > 0 else ():
            figures.append(run_latency(broker.bootstrap_servers, database_url, households, rate, seconds, workdir))
    return figures


def table(figures: list[Figures]) -> str:
    by = {f.name: f for f in figures}
    engine, peer, ceiling = (by.get(n) for n in (ENGINE, PEER, CEILING))
    lines = [
        "| run | events | events/s | p50 ms | p99 ms | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        p50 = f"{f.p50_ms:,.0f}" if f.p50_ms is not None else ""
        p99 = f"{f.p99_ms:,.0f}" if f.p99_ms is not None else ""
        rss = f"{f.peak_rss_mb:,.0f}" if f.peak_rss_mb is not None else ""
        lines.append(f"| {f.name} {f.note} | {f.events:,} | {f.per_second:,.0f} | {p50} | {p99} | {rss} |")
    for f in figures:
        if f.cpu_ms:
            total = f.cpu_ms.get("machine total", 0.0)
            shares = ", ".join(f"{name} {ms:.2f}" for name, ms in f.cpu_ms.items() if name != "machine total")
            capacity = (
                f"; {os.cpu_count() or 1} cores give at most {(os.cpu_count() or 1) * 1000 / total:,.0f} events/s"
            )
            lines.append(f"\nCPU ms per event, {f.name} {f.note}: {total:.2f} ({shares})" + (capacity if total else ""))
    if engine and peer:
        lines.append(f"\nengine / peer: {engine.per_second / peer.per_second:.1f}x")
    if engine and ceiling:
        lines.append(f"ceiling / engine: {ceiling.per_second / engine.per_second:.1f}x")
    return "\n".join(lines)


if __name__ == "__main__":  # `python -m beforeservice.bench.pipeline peer worker`: the peer as a Faust worker
    if sys.argv[1:2] == ["peer"]:
        sys.argv = [sys.argv[0], *sys.argv[2:]]
        peer_app().main()
