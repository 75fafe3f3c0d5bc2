"""`beforeservice bench rebuild`: synthetic births on an embedded broker, then `beforeservice rebuild` into an
empty PostgreSQL schema; prints what the rebuild printed (its events/s)."""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
from datetime import date, timedelta

from sqlalchemy import text

from beforeservice.broker import EmbeddedBroker, ensure_topics, free_port
from beforeservice.database import make_engine
from events.cloudevents import CloudEvent
from events.producer import AgencyProducer

MUNICIPALITIES = ("41110", "11650", "26440", "30110", "41460")


def births(count: int, seed: int) -> list[CloudEvent]:
    rng, today = random.Random(seed), date.today()
    events = []
    for n in range(count):
        born = today - timedelta(days=rng.randint(5, 300))
        events.append(
            CloudEvent(
                id=f"bench-birth-{n}",
                source=f"/agencies/mois/registry/{(municipality := rng.choice(MUNICIPALITIES))}",
                specversion="1.0",
                type="kr.go.mois.birth.registered",
                subject=f"bench-c{n}",
                data={
                    "child": {"id": f"bench-c{n}", "birth_date": born.isoformat()},
                    "parents": [{"id": f"bench-m{n}", "role": "mother"}, {"id": f"bench-f{n}", "role": "father"}],
                    "birth_order": rng.randint(1, 3),
                    "municipality_code": municipality,
                    "registered_on": (born + timedelta(days=3)).isoformat(),
                },
            )
        )
    return events


def run(database_url: str, count: int, seed: int, partitions: int = 8, batch_size: int = 500) -> str:
    """The rebuild's own output, and the CPU time of its process (the machine's load barely changes it, unlike the
    events/s); the database's public schema is emptied first (use a scratch database)."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    with EmbeddedBroker(free_port()) as broker:
        ensure_topics(broker.bootstrap_servers, partitions)
        producer = AgencyProducer(broker.bootstrap_servers)
        for event in births(count, seed):
            producer.send(event)
        producer.flush()
        producer.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DATABASE_"))}
        # Synthetic data only: the start-up check allows the dev secrets (as `bench pipeline` does).
        env.update(
            {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers, "DATABASE_URL": database_url, "DEV_MODE": "true"}
        )
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [sys.executable, "-m", "beforeservice", "rebuild", "--batch-size", str(batch_size)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    own = f"rebuild process CPU: {cpu:.1f} s ({1000 * cpu / max(count, 1):.2f} ms per event), batches of {batch_size}\n"
    return done.stdout + own + done.stderr
