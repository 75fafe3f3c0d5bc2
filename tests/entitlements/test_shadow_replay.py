"""Shadow mode: replaying history through a changed catalog reports the difference and sends nothing."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from beforeservice.broker import EmbeddedBroker
from entitlements import CATALOG_DIR
from entitlements.replay import shadow_replay
from events.cloudevents import CloudEvent
from events.history import read_history
from events.privacy import Pseudonymizer
from events.producer import AgencyProducer
from rules_engine.loader import load_catalog
from tests.support.births import birth_event
from tests.support.fcm_server import LocalFcmServer

pytestmark = pytest.mark.integration


def test_replay_through_a_candidate_catalog_reports_and_sends_nothing(
    broker: EmbeddedBroker, fcm: tuple[LocalFcmServer, Path], tmp_path: Path
) -> None:
    producer = AgencyProducer(broker.bootstrap_servers)
    for n in range(4):  # families settled in Suwon since 2020; the second children get the Suwon grant today
        producer.send(
            CloudEvent(
                id=f"move-{n}",
                source="/agencies/mois/registry/41110",
                specversion="1.0",
                type="kr.go.mois.address.moved",
                data={
                    "movers": [f"m-{n}"],
                    "from_municipality_code": "11650",
                    "to_municipality_code": "41110",
                    "moved_on": "2020-01-01",
                    "registered_on": "2020-01-02",
                },
            )
        )
        producer.send(birth_event(mother=f"m-{n}", child=f"c-{n}", birth_order=1 + n % 2, born="2024-03-01"))
    producer.send(birth_event(mother="m-0", child="c-0", birth_order=1, born="2024-03-01", event_id="dup"))
    producer.send_raw(b"not an event")
    producer.flush()
    producer.close()

    candidate = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, candidate)
    grant = candidate / "tables" / "local_birth_grant" / "41_gyeonggi.yaml"
    text = grant.read_text(encoding="utf-8")
    old = '      2017-01-01: {1: 0, 2: 500000, 3: 2000000, 4: 5000000, "5+": 10000000}\n'
    assert old in text
    # A candidate ordinance: the Suwon grant from the first child already for births in 2024.
    grant.write_text(text.replace(old, old + old.replace("2017-01-01: {1: 0", "2024-01-01: {1: 500000"), 1))
    current_law, candidate_law = load_catalog(CATALOG_DIR), load_catalog(candidate)
    assert candidate_law.benefits["suwon_birth_grant"].parameters["amount_order_1"].at(date(2024, 3, 5)) == 500_000

    history = list(read_history(broker.bootstrap_servers, Pseudonymizer(b"k" * 32)))
    report = shadow_replay(history, current_law, candidate_law)
    assert (report.events, report.refused) == (9, 1)  # the re-sent registration has its own id
    assert report.differences()["suwon_birth_grant"][1] > report.differences()["suwon_birth_grant"][0]
    assert set(report.differences()) == {"suwon_birth_grant"}
    server, _ = fcm
    assert server.received == [] and server.token_requests == 0  # nothing sent
