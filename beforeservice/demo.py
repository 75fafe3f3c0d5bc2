"""A demo for newcomers: a small synthetic population, birth registrations flowing in, offers coming out."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.auth import issue_token
from beforeservice.bootstrap import command_process
from beforeservice.console.agencies import add_agency_key
from beforeservice.settings import Settings
from entitlements.persistence.tables import CitizenRow, HouseholdRow
from events.birth import BIRTH_REGISTERED
from events.cloudevents import CloudEvent
from events.producer import AgencyProducer
from notifiers.tables import NotificationRow

# Municipalities of the demo, with their 시군구 codes (some have a local birth grant in the catalog, some not).
MUNICIPALITIES = {
    "41117": "수원시 영통구",
    "41463": "용인시 기흥구",
    "11680": "서울 강남구",
    "46820": "해남군",
    "11650": "서울 서초구",
}


@dataclass(frozen=True)
class DemoFamily:
    household_id: str
    parents: list[tuple[str, str]]  # (id, role)
    municipality_code: str
    resident_since: date | None
    birth_order: int


def synthetic_families(count: int, seed: int, today: date) -> list[DemoFamily]:
    rng = random.Random(seed)
    families = []
    for n in range(count):
        code = list(MUNICIPALITIES)[n % len(MUNICIPALITIES)]
        tag = f"{seed:02d}{n:04d}"
        parents = [(f"demo-m-{tag}", "mother")] + ([(f"demo-f-{tag}", "father")] if rng.random() < 0.85 else [])
        # About one family in four moved in so recently, or so obscurely, that residence is unknown.
        since = None if rng.random() < 0.25 else today - timedelta(days=rng.randint(60, 3000))
        families.append(DemoFamily(f"demo-hh-{tag}", parents, code, since, rng.choice([1, 1, 1, 2, 2, 3])))
    return families


def seed_population(sessions: sessionmaker[Session], families: list[DemoFamily]) -> None:
    """What the resident registry would have told us before: households and parents (idempotent)."""
    now = datetime.now(UTC)
    with sessions.begin() as session:
        known = set(
            session.scalars(select(HouseholdRow.id).where(HouseholdRow.id.in_([f.household_id for f in families])))
        )
        fresh = [f for f in families if f.household_id not in known]
        if not fresh:
            return
        session.execute(
            insert(HouseholdRow),
            [
                {
                    "id": f.household_id,
                    "municipality_code": f.municipality_code,
                    "resident_since": f.resident_since,
                    "income_percentile": None,
                    "updated_at": now,
                }
                for f in fresh
            ],
        )
        session.execute(
            insert(CitizenRow),
            [
                {
                    "id": pid,
                    "household_id": f.household_id,
                    "role": "parent",
                    "birth_date": None,
                    "birth_order": None,
                    "preferred_language": "ko",
                    "updated_at": now,
                }
                for f in fresh
                for pid, _ in f.parents
            ],
        )


def birth_event(family: DemoFamily, today: date, rng: random.Random) -> CloudEvent:
    born = today - timedelta(days=rng.randint(1, 20))
    child_id = f"demo-c-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}"
    return CloudEvent(
        id=str(uuid.UUID(int=rng.getrandbits(128))),
        source=f"/agencies/mois/registry/{family.municipality_code}",
        specversion="1.0",
        type=BIRTH_REGISTERED,
        time=datetime.now(UTC),
        subject=child_id,
        data={
            "child": {"id": child_id, "birth_date": born.isoformat()},
            "parents": [{"id": pid, "role": role} for pid, role in family.parents],
            "birth_order": family.birth_order,
            "municipality_code": family.municipality_code,
            "registered_on": today.isoformat(),
        },
    )


def run_demo(settings: Settings, births: int, seed: int, api_base: str | None = None) -> Iterator[str]:
    process = command_process(settings)
    try:
        yield from _demo(settings, process.sessions, births, seed, api_base)
    finally:
        process.close()


def _demo(
    settings: Settings, sessions: sessionmaker[Session], births: int, seed: int, api_base: str | None
) -> Iterator[str]:
    today = date.today()
    rng = random.Random(seed * 7919 + today.toordinal())
    families = synthetic_families(births, seed, today)
    seed_population(sessions, families)
    events = [birth_event(f, today, rng) for f in families]
    if api_base:  # half through the HTTP API (as an agency system would), half straight into Kafka
        with sessions.begin() as session:  # a demo MOIS key, as `beforeservice agencies add` makes
            _, key = add_agency_key(session, "mois", ["kr.go.mois.*"], ["/agencies/mois/registry/"])
        with httpx.Client(base_url=api_base, timeout=10, headers={"x-api-key": key}) as client:
            for event in events[: len(events) // 2]:
                client.post(
                    "/v1/events",
                    content=event.to_structured(),
                    headers={"content-type": "application/cloudevents+json"},
                ).raise_for_status()
        kafka_events = events[len(events) // 2 :]
    else:
        kafka_events = events
    producer = AgencyProducer(settings.bootstrap_servers)
    for event in kafka_events:
        producer.send(event)
    producer.flush()
    producer.close()
    yield f"demo      {len(events)} birth registrations sent (MOIS registry → life-events)"
    mothers = {f.parents[0][0]: f for f in families}
    deadline = time.monotonic() + 90
    found: dict[str, NotificationRow] = {}
    while time.monotonic() < deadline and len(found) < len(mothers):
        with sessions() as session:
            for row in session.scalars(select(NotificationRow).where(NotificationRow.recipient_id.in_(list(mothers)))):
                found[row.recipient_id] = row
        time.sleep(0.5)
    base = api_base or f"http://{settings.api_host}:{settings.api_port}"
    for mother, family in mothers.items():
        found_row = found.get(mother)
        place = f"{MUNICIPALITIES[family.municipality_code]} ({family.municipality_code})"
        if found_row is None:
            yield f"  {mother}: no decided offers (all sent to caseworker review) — {place}"
            continue
        offers = f"{len(found_row.offer_ids)} offers, child #{family.birth_order}, {place}"
        yield f"  {mother}: {offers} — {base}/v1/citizens/{mother}/inbox"
    if found:
        first = next(iter(found.values()))
        token = issue_token(settings, first.recipient_id, "citizen")
        yield ""
        yield "  the inbox API needs the citizen's token; for the first parent:"
        yield f"    curl -s -H 'Authorization: Bearer {token}' {base}/v1/citizens/{first.recipient_id}/inbox"
        yield ""
        yield "  what the first parent sees in the app:"
        yield from ("    " + line for line in first.message_ko.splitlines())
