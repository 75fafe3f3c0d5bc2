"""FcmPushSender against LocalFcmServer: the real firebase-admin + google-auth client code, over real HTTP."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from firebase_admin import messaging

from notifiers.fcm.encoding import ShapeEncoder
from notifiers.fcm.sender import MAX_PAYLOAD_BYTES, FcmPushSender, encode_full, fcm_message_of, payload_size
from notifiers.push import PushMessage
from tests.support.fcm_senders import PROJECT, local_senders, offer_pushes
from tests.support.fcm_server import LocalFcmServer, write_service_account

pytestmark = pytest.mark.integration

SenderFactory = Callable[..., FcmPushSender]


@pytest.fixture
def server() -> Iterator[LocalFcmServer]:
    with LocalFcmServer() as srv:
        yield srv


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_sender(server: LocalFcmServer, tmp_path: Path, sleeps: list[float]) -> Iterator[SenderFactory]:
    service_account = write_service_account(tmp_path / "sa.json", server.token_uri, PROJECT)
    with local_senders(FcmPushSender, server, service_account, sleeps, app_prefix="test", seed=7) as factory:
        yield factory


@pytest.fixture
def sender(make_sender: SenderFactory) -> FcmPushSender:
    return make_sender()


push = offer_pushes(collapse_key="offers-2024-birth", data={"bundle_id": "b-42", "kind": "offer_bundle"})


def test_message_reaches_fcm_with_all_fields(sender: FcmPushSender, server: LocalFcmServer) -> None:
    before = int(time.time())
    [result] = sender.send([push("device-1", ttl_seconds=3600)])

    assert result.accepted and result.token == "device-1"
    assert result.message_id == f"projects/{PROJECT}/messages/1"
    [message] = server.received
    assert message["token"] == "device-1"
    assert message["notification"] == {
        "title": "새로운 혜택 안내",
        "body": "받으실 수 있는 혜택이 있습니다. 앱에서 확인하세요.",
    }
    assert message["data"] == {"bundle_id": "b-42", "kind": "offer_bundle"}
    android = message["android"]
    assert android["priority"] == "high"
    assert android["ttl"] == "3600s"
    assert android["collapse_key"] == "offers-2024-birth"
    assert android["notification"] == {"visibility": "PRIVATE", "tag": "offers-2024-birth"}
    apns = message["apns"]
    assert apns["headers"]["apns-collapse-id"] == "offers-2024-birth"
    assert before + 3600 <= int(apns["headers"]["apns-expiration"]) <= int(time.time()) + 3600
    assert apns["payload"]["aps"]["thread-id"] == "offers-2024-birth"


def test_oauth_token_comes_from_the_token_endpoint(sender: FcmPushSender, server: LocalFcmServer) -> None:
    assert sender.send([push("device-1"), push("device-2")])[0].accepted
    assert server.token_requests == 1  # one JWT-bearer grant, shared by the whole batch
    claims = server.token_claims[0]
    assert claims["iss"] == f"firebase-adminsdk-test@{PROJECT}.iam.gserviceaccount.com"
    assert "https://www.googleapis.com/auth/cloud-platform" in claims["scope"].split()

    # A rejected token (401) makes google-auth's AuthorizedSession re-grant and replay the request.
    server.revoke_access_tokens()
    [result] = sender.send([push("device-3")])
    assert result.accepted
    assert server.token_requests == 2


def test_600_messages_go_out_in_two_send_each_batches(
    sender: FcmPushSender, server: LocalFcmServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    batch_sizes: list[int] = []
    real_send_each = messaging.send_each

    def spy(messages: list[messaging.Message], *args: Any, **kwargs: Any) -> messaging.BatchResponse:
        batch_sizes.append(len(messages))
        return real_send_each(messages, *args, **kwargs)

    monkeypatch.setattr(messaging, "send_each", spy)
    tokens = [f"device-{i}" for i in range(600)]

    results = sender.send([push(t) for t in tokens])

    assert batch_sizes == [500, 100]
    assert [r.token for r in results] == tokens  # one result per message, in order
    assert all(r.accepted and r.message_id for r in results)
    assert len(server.received) == 600
    assert len({r.message_id for r in results}) == 600


def test_unregistered_token_is_invalid_and_not_retried(
    sender: FcmPushSender, server: LocalFcmServer, sleeps: list[float]
) -> None:
    server.fail_token("gone", 404, "UNREGISTERED")

    ok, gone = sender.send([push("fine"), push("gone")])

    assert ok.accepted
    assert not gone.accepted
    assert gone.error_code == "UNREGISTERED"
    assert gone.token_invalid and not gone.retryable
    assert server.attempts("gone") == 1
    assert sleeps == []


def test_quota_exceeded_honours_retry_after(sender: FcmPushSender, server: LocalFcmServer, sleeps: list[float]) -> None:
    server.fail_token("busy", 429, "QUOTA_EXCEEDED", times=1, retry_after=1)

    [result] = sender.send([push("busy")])

    assert result.accepted
    assert server.attempts("busy") == 2  # the SDK's transport did not retry on its own
    assert len(sleeps) == 1 and sleeps[0] >= 1.0


def test_unavailable_twice_then_success(sender: FcmPushSender, server: LocalFcmServer, sleeps: list[float]) -> None:
    server.fail_token("flaky", 503, "UNAVAILABLE", times=2)

    ok, flaky = sender.send([push("steady"), push("flaky")])

    assert ok.accepted and flaky.accepted
    assert server.attempts("flaky") == 3
    assert server.attempts("steady") == 1  # only failures are re-sent
    # Jittered exponential backoff: base 0.2 s, halves of [0.2, 0.4] s.
    assert len(sleeps) == 2
    assert 0.1 <= sleeps[0] <= 0.2 and 0.2 <= sleeps[1] <= 0.4


@pytest.mark.parametrize(("status", "fcm_code"), [(400, "INVALID_ARGUMENT"), (403, "SENDER_ID_MISMATCH")])
def test_permanent_errors_are_not_retried(
    sender: FcmPushSender, server: LocalFcmServer, sleeps: list[float], status: int, fcm_code: str
) -> None:
    server.fail_token("bad", status, fcm_code)

    [result] = sender.send([push("bad")])

    assert not result.accepted
    assert result.error_code == fcm_code
    assert not result.retryable and not result.token_invalid
    assert server.attempts("bad") == 1
    assert sleeps == []


@pytest.mark.parametrize("max_attempts", [4, 2])
def test_persistent_internal_error_stops_after_max_attempts(
    make_sender: SenderFactory, server: LocalFcmServer, sleeps: list[float], max_attempts: int
) -> None:
    sender = make_sender(max_attempts=max_attempts)
    server.fail_token("broken", 500, "INTERNAL")

    [result] = sender.send([push("broken")])

    assert not result.accepted
    assert result.error_code == "INTERNAL" and result.retryable
    assert server.attempts("broken") == max_attempts  # no hidden retries underneath ours
    assert len(sleeps) == max_attempts - 1
    assert all(s <= 5.0 for s in sleeps)


@pytest.mark.parametrize("retry_after", [None, 120])
def test_quota_without_usable_retry_after_is_left_to_the_caller(
    sender: FcmPushSender, server: LocalFcmServer, sleeps: list[float], retry_after: int | None
) -> None:
    # FCM asks for >= 1 min after a quota 429 without Retry-After; neither that nor a 2-min
    # Retry-After should block send(): the result stays retryable for the dispatcher to reschedule.
    server.fail_token("throttled", 429, "QUOTA_EXCEEDED", retry_after=retry_after)

    [result] = sender.send([push("throttled")])

    assert not result.accepted
    assert result.error_code == "QUOTA_EXCEEDED" and result.retryable
    assert server.attempts("throttled") == 1
    assert sleeps == []


def test_oversized_payload_raises_before_anything_is_sent(sender: FcmPushSender, server: LocalFcmServer) -> None:
    with pytest.raises(ValueError, match="bytes"):
        sender.send([push("fine"), push("huge", data={"blob": "x" * MAX_PAYLOAD_BYTES})])
    # Hangul is 3 bytes in UTF-8: 1,400 syllables are 4,200 bytes although only 1,400 characters.
    with pytest.raises(ValueError, match="bytes"):
        sender.send([push("korean", data={"note": "가" * 1400})])
    assert server.received == []
    assert server.attempts("fine") == 0


def test_payload_just_under_the_limit_is_sent(sender: FcmPushSender, server: LocalFcmServer) -> None:
    [result] = sender.send([push("roomy", data={"blob": "x" * 3000})])
    assert result.accepted


def test_real_endpoint_keeps_the_fcm_url_and_single_retry_layer(tmp_path: Path) -> None:
    # No request is made: this only pins how the SDK's service is configured for production.
    service_account = write_service_account(tmp_path / "sa.json", "https://oauth2.googleapis.com/token")
    sender = FcmPushSender(service_account, app_name=f"test-{uuid.uuid4().hex}")
    try:
        service = messaging._get_messaging_service(sender._app)
        url = f"https://fcm.googleapis.com/v1/projects/{PROJECT}/messages:send"
        assert service._fcm_url == url
        adapter = service._client.session.get_adapter(url)
        assert adapter.max_retries.status == 0 and not adapter.max_retries.status_forcelist
        assert adapter._pool_maxsize == 500
    finally:
        sender.close()


@pytest.mark.parametrize("token", ["device-1", "토큰-한글", 'with "quotes" and \\ backslash', "x" * 300])
def test_the_size_checked_is_the_payload_of_the_body_built_once(sender: FcmPushSender, token: str) -> None:
    # build_encoded sizes the request body it returns (the one the HTTP transports post) without a second
    # encoding: its payload bytes must equal payload_size() of the message, which drops the routing token.
    message, body = sender.build_encoded(push(token, data={"kind": "혜택", "n": "1"}))

    assert json.loads(body) == {"message": messaging._MessagingService.encode_message(message)}
    envelope = len(body) - payload_size(message)
    assert envelope == len(b'{"message":}') + len(('"token":' + json.dumps(token, ensure_ascii=False) + ",").encode())


def test_the_4kb_limit_holds_at_the_exact_byte(sender: FcmPushSender) -> None:
    base = payload_size(sender.build_message(push("device-1", data={"blob": ""})))
    sender.build_encoded(push("device-1", data={"blob": "가" * ((MAX_PAYLOAD_BYTES - base) // 3)}))
    with pytest.raises(ValueError, match="bytes > 4096"):
        sender.build_encoded(push("device-1", data={"blob": "x" * (MAX_PAYLOAD_BYTES - base + 1)}))


# -- the per-shape encoding (notifiers.fcm.encoding) against firebase-admin's own, message by message ----------

_AWKWARD = [
    "a",
    "가",
    "혜",
    '"',
    "\\",
    "😀",
    "\n",
    "\t",
    "\x00",
    "\x1f",
    "\u2028",
    "{",
    "}",
    "{0}",
    "%s",
    "é",
    "/",
    " ",
]
_TITLES = [
    ("새로운 혜택 안내", "받으실 수 있는 혜택이 있습니다. 앱에서 확인하세요."),
    ("New benefit", 'Open the app: "offers" {today}'),
    ("Nouvelle aide", "Vous avez droit à une aide \\ à vérifier."),
    ("新しい給付", "アプリで確認してください 😀"),
]
_DATA_KEYS = [(), ("notification_id",), ("notification_id", "kind", "bundle_id"), ("kind", "notification_id"), ('k"{',)]


def _varied_pushes(count: int, seed: int = 11) -> list[PushMessage]:
    rng = random.Random(seed)

    def text(low: int, high: int) -> str:
        return "".join(rng.choice(_AWKWARD) for _ in range(rng.randint(low, high)))

    pushes = []
    for i in range(count):
        title, body = rng.choice(_TITLES)
        token = rng.choice([f"device-{i}", "x" * 400 + str(i), text(1, 200)])
        collapse_key = rng.choice(["offers-2024-birth", f"bundle-{i % 5}", text(1, 12)])
        data = {
            key: rng.choice([str(uuid.UUID(int=rng.getrandbits(128))), "offer_bundle", "", text(0, 40)])
            for key in rng.choice(_DATA_KEYS)
        }
        ttl = rng.choice([0, 60, 3600, 7 * 24 * 3600])
        pushes.append(PushMessage(token, title, body, collapse_key, data, ttl))
    return pushes


def _frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # Both encodings read the clock for apns-expiration: pin it so they can be compared byte for byte.
    monkeypatch.setattr(time, "time", lambda: 1_780_000_000.25)


def test_per_shape_bodies_are_firebase_admins_encoding_byte_for_byte(
    sender: FcmPushSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    _frozen_clock(monkeypatch)
    for push_message in _varied_pushes(600):
        message, full = sender.build_encoded(push_message)
        fast = sender.encode_body(push_message)
        assert sender._shapes.body(push_message, "0") is not None  # the per-shape path made it, no fallback
        assert fast == full
        assert json.loads(fast) == {"message": messaging._MessagingService.encode_message(message)}


def test_firebase_admin_encodes_once_per_shape_and_the_cache_is_bounded(
    make_sender: SenderFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    sender = make_sender()
    calls: list[messaging.Message] = []
    encode = messaging._MessagingService.encode_message

    def counting(cls: object, message: messaging.Message) -> Any:
        calls.append(message)
        return encode(message)

    monkeypatch.setattr(messaging._MessagingService, "encode_message", classmethod(counting))
    for i in range(50):  # one shape: tokens, collapse keys and data values vary
        sender.encode_body(push(f"device-{i}", collapse_key=f"bundle-{i}", data={"bundle_id": f"b-{i}", "kind": "x"}))
    assert len(calls) == 1
    sender.encode_body(push("device-1", title="다른 제목"))  # another title, another shape
    sender.encode_body(push("device-1", data={"kind": "offer_bundle", "bundle_id": "b-42"}))  # key order counts
    sender.encode_body(push("device-1", ttl_seconds=60))
    assert len(calls) == 4

    small = ShapeEncoder(fcm_message_of, encode_full, max_shapes=3)
    for i in range(10):
        assert small.body(push("device-1", title=f"title {i}"), "1") is not None
    assert len(small._templates) == 3


@pytest.mark.parametrize(
    "overrides",
    [
        {"token": ""},
        {"token": 42},
        {"data": {"n": 1}},
        {"data": {1: "n"}},
        {"data": {"n": None}},
        {"data": [("n", "1")]},
        {"title": 7},
        {"body": ["b"]},
        {"ttl_seconds": -1},
        {"collapse_key": ""},
        {"collapse_key": "k" * 65},
        {"data": {"blob": "가" * 1400}},
    ],
)
def test_invalid_pushes_fail_as_firebase_admin_fails_them(
    sender: FcmPushSender, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, Any]
) -> None:
    _frozen_clock(monkeypatch)
    odd = push(**{"token": "device-1", **overrides})

    def outcome(encode: Callable[[PushMessage], bytes]) -> bytes | str:
        try:
            return encode(odd)
        except (TypeError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"

    full = outcome(lambda m: sender.build_encoded(m)[1])
    assert full == outcome(sender.encode_body)
    assert isinstance(full, bytes) == (overrides == {"data": [("n", "1")]})  # dict() of pairs is a valid data


def test_values_that_are_not_plain_str_or_collide_with_placeholders_take_the_full_encoder(
    sender: FcmPushSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    _frozen_clock(monkeypatch)

    class Label(str):
        pass

    nonce = sender._shapes._nonce
    for odd in (
        push(Label("device-1")),
        push("device-1", data={"kind": Label("offer")}),
        push("device-1", ttl_seconds=3600.5),
        push("device-1", title=f"@{nonce}.0@"),  # the placeholder text itself, in a repeated field
        push(f'"@{nonce}.1@"', collapse_key=f"@{nonce}.0@", data={"n": f"@{nonce}.3@"}),  # in substituted ones
    ):
        assert sender.encode_body(odd) == sender.build_encoded(odd)[1]


@pytest.mark.parametrize("encode", ["build_encoded", "encode_body"])
def test_the_4kb_limit_holds_at_the_exact_byte_on_both_paths(sender: FcmPushSender, encode: str) -> None:
    build = getattr(sender, encode)
    for token in ("device-1", "토큰-" * 40, 'q"\\' * 50):
        base = payload_size(sender.build_message(push(token, data={"blob": ""})))
        build(push(token, data={"blob": "가" * ((MAX_PAYLOAD_BYTES - base) // 3)}))
        build(push(token, data={"blob": "x" * (MAX_PAYLOAD_BYTES - base)}))
        with pytest.raises(ValueError, match="bytes > 4096"):
            build(push(token, data={"blob": "x" * (MAX_PAYLOAD_BYTES - base + 1)}))
