"""The production FCM transport against the local FCM server: CurlFcmPushSender (libcurl,
notifiers/fcm/transport.py), the dispatcher's sender. The real firebase-admin encoding and error mapping, the real
google-auth grant, over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from firebase_admin import messaging
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from notifiers.fcm.sender import FcmPushSender, fcm_message_of
from notifiers.fcm.transport import CurlFcmPushSender
from notifiers.outbox import dispatch_pending
from notifiers.tables import DeliveryRow, DeviceRow
from tests.support.fcm_senders import PROJECT, local_senders, offer_pushes
from tests.support.fcm_server import LocalFcmServer, write_service_account
from tests.support.notification_seeds import T0, notification, offer, opt_in, row, seed_citizen

pytestmark = pytest.mark.integration

Factory = Callable[..., CurlFcmPushSender]


@pytest.fixture
def credentials(fcm_server: LocalFcmServer, tmp_path: Path) -> Path:
    return write_service_account(tmp_path / "sa.json", fcm_server.token_uri, PROJECT)


@pytest.fixture
def make_curl(fcm_server: LocalFcmServer, credentials: Path, backoff_sleeps: list[float]) -> Iterator[Factory]:
    with local_senders(
        CurlFcmPushSender, fcm_server, credentials, backoff_sleeps, app_prefix="curl", seed=3
    ) as factory:
        yield factory


@pytest.fixture
def curl(make_curl: Factory) -> CurlFcmPushSender:
    return make_curl()


push = offer_pushes(
    collapse_key="n-offers-2024-birth", data={"notification_id": "n-1", "kind": "offers"}, ttl_seconds=3600
)


def test_success_uses_the_override_endpoint_and_one_shared_grant(
    curl: CurlFcmPushSender, fcm_server: LocalFcmServer
) -> None:
    results = curl.send([push(f"device-{i}") for i in range(50)])

    assert all(r.accepted for r in results)
    assert results[0].message_id is not None and results[0].message_id.startswith(f"projects/{PROJECT}/messages/")
    assert curl.url == f"{fcm_server.url}/v1/projects/{PROJECT}/messages:send"
    assert fcm_server.token_requests == 1  # one JWT-bearer grant for all 50 requests


def test_a_revoked_access_token_is_granted_again_once(curl: CurlFcmPushSender, fcm_server: LocalFcmServer) -> None:
    assert curl.send([push("device-1")])[0].accepted
    fcm_server.revoke_access_tokens()

    results = curl.send([push(f"device-{i}") for i in range(20)])

    assert all(r.accepted for r in results)
    assert fcm_server.token_requests == 2  # 20 requests saw the 401; one new grant served them all


def test_same_json_body_as_the_send_each_path(
    curl: CurlFcmPushSender, sender: FcmPushSender, fcm_server: LocalFcmServer
) -> None:
    message = push("device-1")
    sender.send([message])
    curl.send([message])

    via_send_each, via_curl = fcm_server.received
    # apns-expiration is "now + ttl" at build time: the two builds may be a second apart.
    expiry = [int(m["apns"]["headers"].pop("apns-expiration")) for m in (via_send_each, via_curl)]
    assert abs(expiry[0] - expiry[1]) <= 2
    assert via_curl == via_send_each
    assert via_curl["android"] == {
        "priority": "high",
        "ttl": "3600s",
        "collapse_key": "n-offers-2024-birth",
        "notification": {"visibility": "PRIVATE", "tag": "n-offers-2024-birth"},
    }
    assert via_curl["data"] == {"notification_id": "n-1", "kind": "offers"}


def test_results_keep_the_order_of_a_500_message_batch(curl: CurlFcmPushSender, fcm_server: LocalFcmServer) -> None:
    tokens = [f"device-{i}" for i in range(500)]
    for i in range(0, 500, 37):
        fcm_server.fail_token(tokens[i], 400, "INVALID_ARGUMENT")

    results = curl.send([push(t) for t in tokens])

    assert [r.token for r in results] == tokens
    assert [r.accepted for r in results] == [i % 37 != 0 for i in range(500)]
    assert {r.error_code for r in results if not r.accepted} == {"INVALID_ARGUMENT"}
    accepted_ids = [r.message_id for r in results if r.accepted]
    assert len(set(accepted_ids)) == len(accepted_ids) == len(fcm_server.received)
    # Each accepted result names the message the server accepted for that very token.
    by_token = {m["token"] for m in fcm_server.received}
    assert by_token == {t for t, r in zip(tokens, results, strict=True) if r.accepted}


def test_quota_exceeded_with_retry_after_is_retried_then_delivered(
    curl: CurlFcmPushSender, fcm_server: LocalFcmServer, backoff_sleeps: list[float]
) -> None:
    fcm_server.fail_token("busy", 429, "QUOTA_EXCEEDED", times=1, retry_after=2)

    [result] = curl.send([push("busy")])

    assert result.accepted
    assert fcm_server.attempts("busy") == 2
    assert len(backoff_sleeps) == 1 and backoff_sleeps[0] >= 2.0  # Retry-After honoured


def test_unavailable_twice_then_delivered_with_jittered_backoff(
    curl: CurlFcmPushSender, fcm_server: LocalFcmServer, backoff_sleeps: list[float]
) -> None:
    fcm_server.fail_token("flaky", 503, "UNAVAILABLE", times=2)

    steady, flaky = curl.send([push("steady"), push("flaky")])

    assert steady.accepted and flaky.accepted
    assert fcm_server.attempts("flaky") == 3 and fcm_server.attempts("steady") == 1
    assert 0.1 <= backoff_sleeps[0] <= 0.2 < backoff_sleeps[1] <= 0.4


@pytest.mark.parametrize("max_attempts", [4, 2])
def test_persistent_internal_error_is_retried_a_bounded_number_of_times(
    make_curl: Factory, fcm_server: LocalFcmServer, backoff_sleeps: list[float], max_attempts: int
) -> None:
    fcm_server.fail_token("broken", 500, "INTERNAL")

    [result] = make_curl(max_attempts=max_attempts).send([push("broken")])

    assert not result.accepted and result.retryable and result.error_code == "INTERNAL"
    assert fcm_server.attempts("broken") == max_attempts  # no hidden transport retries under ours
    assert len(backoff_sleeps) == max_attempts - 1


@pytest.mark.parametrize(("status", "code"), [(400, "INVALID_ARGUMENT"), (403, "SENDER_ID_MISMATCH")])
def test_permanent_errors_are_not_retried(
    curl: CurlFcmPushSender, fcm_server: LocalFcmServer, backoff_sleeps: list[float], status: int, code: str
) -> None:
    fcm_server.fail_token("bad", status, code)

    [result] = curl.send([push("bad")])

    assert not result.accepted and not result.retryable and not result.token_invalid
    assert result.error_code == code
    assert fcm_server.attempts("bad") == 1 and backoff_sleeps == []


def test_unregistered_token_is_deleted_by_the_dispatcher(
    sessions: sessionmaker[Session], curl: CurlFcmPushSender, fcm_server: LocalFcmServer
) -> None:
    seed_citizen(sessions, "c1")
    opt_in(sessions, "c1", ["gone", "kept"])
    n = notification(sessions, "c1", [offer(sessions, "c1")])
    fcm_server.fail_token("gone", 404, "UNREGISTERED")

    result = dispatch_pending(sessions, curl, now=T0)

    assert result.pushed == 1 and result.tokens_removed == 1
    assert fcm_server.attempts("gone") == 1  # not retried
    assert row(sessions, n).dispatch_status == "sent"
    with sessions() as session:
        assert session.scalars(select(DeviceRow.token)).all() == ["kept"]
        codes = sorted(c or "" for c in session.scalars(select(DeliveryRow.error_code)))
        assert codes == ["", "UNREGISTERED"]


def test_an_unreachable_fcm_is_a_retryable_failure(credentials: Path, backoff_sleeps: list[float]) -> None:
    # The OAuth grant still goes to the live fixture server (the credentials' token_uri); only FCM is gone.
    with LocalFcmServer() as gone:
        endpoint = gone.url  # a port nobody listens on once the server stopped
    with CurlFcmPushSender(
        credentials,
        project_id=PROJECT,
        endpoint=endpoint,
        app_name=f"curl-{uuid.uuid4().hex}",
        max_attempts=2,
        sleep=backoff_sleeps.append,
    ) as sender:
        [result] = sender.send([push("device-1")])

    assert not result.accepted and result.retryable
    assert result.error_code == "UNAVAILABLE"
    assert len(backoff_sleeps) == 1


def test_firebase_admin_encodes_once_per_message_shape(
    curl: CurlFcmPushSender, fcm_server: LocalFcmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The body sized for the 4 KB check is the body posted, firebase-admin's encoding of the message: its encoder
    # runs once per shape (title, body, ttl, data keys), the tokens and data values are substituted into that.
    calls: list[object] = []
    encode = messaging._MessagingService.encode_message

    def counting(cls: object, message: messaging.Message) -> Any:
        calls.append(message)
        return encode(message)

    monkeypatch.setattr(messaging._MessagingService, "encode_message", classmethod(counting))
    pushes = [push(f"device-{i}", data={"notification_id": f"n-{i}", "kind": '혜택 "{i}"'}) for i in range(10)]

    results = curl.send(pushes)

    assert all(r.accepted for r in results) and len(calls) == 1
    monkeypatch.setattr(messaging._MessagingService, "encode_message", encode)
    received = {m["token"]: m for m in fcm_server.received}  # sent concurrently: in any order
    assert len(received) == len(pushes)
    for original in pushes:
        sent = received[original.token]
        assert sent == encode(fcm_message_of(original, sent["apns"]["headers"]["apns-expiration"]))


def test_a_slow_fcm_times_out_as_a_retryable_deadline(
    make_curl: Factory, fcm_server: LocalFcmServer, backoff_sleeps: list[float]
) -> None:
    fcm_server.delay_token("slow", 2.0)

    fast, slow = make_curl(http_timeout=0.5, max_attempts=1).send([push("fast"), push("slow")])

    assert fast.accepted
    assert not slow.accepted and slow.retryable and slow.error_code == "DEADLINE_EXCEEDED"


def test_gzip_chunked_replies_are_decoded(
    curl: CurlFcmPushSender, fcm_server: LocalFcmServer, backoff_sleeps: list[float]
) -> None:
    fcm_server.gzip_chunked_replies = True
    fcm_server.fail_token("busy", 429, "QUOTA_EXCEEDED", times=1, retry_after=3)
    fcm_server.fail_token("bad", 400, "INVALID_ARGUMENT")

    ok, busy, bad = curl.send([push("ok"), push("busy"), push("bad")])

    assert ok.accepted and ok.message_id is not None and ok.message_id.startswith(f"projects/{PROJECT}/messages/")
    assert busy.accepted and backoff_sleeps and backoff_sleeps[0] >= 3.0  # Retry-After read from the gzip reply
    assert not bad.accepted and bad.error_code == "INVALID_ARGUMENT" and not bad.retryable
    assert all("gzip" in accepted for accepted in fcm_server.accept_encodings)  # libcurl asks for compression


def test_a_refused_new_grant_fails_only_the_requests_that_saw_401(
    make_curl: Factory, fcm_server: LocalFcmServer
) -> None:
    sender = make_curl()
    assert sender.send([push("device-0")])[0].accepted
    fcm_server.revoke_access_tokens()
    fcm_server.refuse_grants = True

    results = sender.send([push(f"device-{i}") for i in range(5)])

    assert not any(r.accepted or r.retryable for r in results)
    assert {r.error_code for r in results} == {"UNAUTHENTICATED"}
