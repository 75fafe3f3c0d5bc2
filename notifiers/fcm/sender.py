"""FCM implementation of the push port, on the official firebase-admin SDK (HTTP v1).

``FcmPushSender`` owns everything but the wire: the firebase-admin app and its credentials, message building and
the 4 KB checks, firebase-admin's error types mapped to ``PushResult``, and the retry policy (UNREGISTERED marks
the token for deletion; 429/500/503 and timeouts are re-sent with jittered exponential backoff honouring
Retry-After; 400/403 are never re-sent). On its own it sends each batch with firebase-admin's ``send_each`` (the
reference ``beforeservice bench notify`` measures against); in production its batches go over the one transport,
libcurl (``notifiers.fcm.transport.CurlFcmPushSender``).
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring  # json.dumps' own string encoder (ensure_ascii=False)
from typing import Any

import firebase_admin
import google.auth.exceptions
import google.auth.transport.requests
import requests
from firebase_admin import credentials, exceptions, messaging
from urllib3.util.retry import Retry

from notifiers.fcm.encoding import ShapeEncoder
from notifiers.push import PushMessage, PushResult

log = logging.getLogger(__name__)

FCM_BATCH_LIMIT = 500  # send_each refuses more
MAX_PAYLOAD_BYTES = 4096  # FCM's limit for a message payload, and APNs' for what reaches the device
APNS_COLLAPSE_ID_MAX_BYTES = 64  # APNs rejects longer apns-collapse-id headers
REAL_FCM_ENDPOINT = "https://fcm.googleapis.com"
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"

# Transient per FCM's error guide: retry these (with backoff) and nothing else.
_RETRYABLE = (
    exceptions.UnavailableError,  # 503, and connection failures
    exceptions.InternalError,  # 500
    exceptions.ResourceExhaustedError,  # 429, incl. messaging.QuotaExceededError
    exceptions.DeadlineExceededError,  # client-side timeout
)
# FCM-specific exceptions carry the FCM error code only in the body; name them for PushResult.error_code.
_FCM_CODES: tuple[tuple[type[exceptions.FirebaseError], str], ...] = (
    (messaging.UnregisteredError, "UNREGISTERED"),
    (messaging.QuotaExceededError, "QUOTA_EXCEEDED"),
    (messaging.SenderIdMismatchError, "SENDER_ID_MISMATCH"),
    (messaging.ThirdPartyAuthError, "THIRD_PARTY_AUTH_ERROR"),
)

_QUOTA_CODES = ("QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED")

_apps_lock = threading.Lock()


def _transport_retry() -> Retry:
    """Connection-level retries only. firebase-admin's default also retries 500/503 four times (and a
    429 carrying Retry-After, via urllib3) with real, uninjectable sleeps inside each worker thread;
    stacked under our own retry that would be up to 20 attempts per message. Status-based retry is
    owned by FcmPushSender.send(), so it is bounded, batch-wide and testable."""
    return Retry(
        total=None,
        connect=1,
        read=1,  # as firebase-admin; a duplicate is replaced on the device via collapse_key/tag
        redirect=0,
        status=0,
        other=0,
        allowed_methods=None,  # also POST, as firebase-admin does
        status_forcelist=(),
        respect_retry_after_header=False,
        raise_on_status=False,
    )


class FcmPushSender:
    """PushSender over firebase-admin: batches of ≤500 via messaging.send_each, bounded retry of transient
    failures with jittered exponential backoff (honouring Retry-After)."""

    def __init__(
        self,
        credentials_file: str | os.PathLike[str],
        project_id: str | None = None,
        endpoint: str | None = None,
        app_name: str = "before-service-fcm",
        *,
        max_attempts: int = 4,
        backoff_base: float = 0.2,
        backoff_cap: float = 5.0,
        max_retry_after: float = 30.0,
        http_timeout: float = 30.0,
        pool_size: int = FCM_BATCH_LIMIT,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._shapes = ShapeEncoder(fcm_message_of, encode_full)
        self._app, self._owns_app = self._get_or_create_app(credentials_file, project_id, app_name, http_timeout)
        self._google_credential = self._app.credential.get_credential()
        self._token_lock = threading.Lock()
        self._configure_service(endpoint, pool_size)

    # -- setup -------------------------------------------------------------------------------------

    @staticmethod
    def _get_or_create_app(
        credentials_file: str | os.PathLike[str], project_id: str | None, app_name: str, http_timeout: float
    ) -> tuple[firebase_admin.App, bool]:
        # Named apps let several senders (e.g. tests, or two Firebase projects) coexist in one process.
        with _apps_lock:
            try:
                return firebase_admin.get_app(app_name), False
            except ValueError:
                pass
            options: dict[str, Any] = {"httpTimeout": http_timeout}
            if project_id:
                options["projectId"] = project_id
            cred = credentials.Certificate(os.fspath(credentials_file))  # it accepts str, not Path
            return firebase_admin.initialize_app(cred, options, name=app_name), True

    def _configure_service(self, endpoint: str | None, pool_size: int) -> None:
        # The endpoint override swaps only the URL the SDK posts to; everything else stays the SDK's own
        # code: Message encoding, AuthorizedSession (bearer token, refresh on 401), send_each's thread
        # pool, and its error parsing into typed exceptions. The OAuth token comes from the service
        # account's token_uri, so a local server also gets a real JWT-bearer grant from google-auth.
        # _get_messaging_service / _fcm_url / _client are private, hence the explicit guard below;
        # the integration tests pin this against the installed firebase-admin.
        service = messaging._get_messaging_service(self._app)
        session = getattr(getattr(service, "_client", None), "session", None)
        if not hasattr(service, "_fcm_url") or not isinstance(session, requests.Session):
            raise RuntimeError(f"unsupported firebase-admin {firebase_admin.__version__}: internals changed")
        base = (endpoint or REAL_FCM_ENDPOINT).rstrip("/")
        if endpoint:
            service._fcm_url = f"{base}/v1/projects/{self._app.project_id}/messages:send"
        # Replaces the adapter firebase-admin mounts for fcm.googleapis.com (or adds one for the local
        # endpoint): a pool as large as a batch, since send_each runs one thread per message and, with
        # its pool of 100, connections beyond 100 in flight are discarded after use (urllib3 warns) and
        # re-opened with a new TLS handshake next batch; and no status retries (see _transport_retry).
        adapter = requests.adapters.HTTPAdapter(
            pool_connections=1, pool_maxsize=pool_size, max_retries=_transport_retry()
        )
        session.mount(base, adapter)
        # requests re-reads proxy settings from os.environ on every request, a large share of the client's
        # CPU per message (docs/benchmarks.md, notify). Resolve them once for the FCM endpoint instead (same
        # proxies, same CA bundle); the sender is long-lived and only ever talks to this one host.
        session.proxies.update(requests.utils.get_environ_proxies(base))
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            session.verify = ca_bundle
        session.trust_env = False

    def close(self) -> None:
        if self._owns_app:
            firebase_admin.delete_app(self._app)
            self._owns_app = False

    def __enter__(self) -> FcmPushSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- sending -----------------------------------------------------------------------------------

    def send(self, messages: Sequence[PushMessage]) -> list[PushResult]:
        # Build and size-check everything first, so an invalid message fails before anything is sent.
        built = [self._prepare(m) for m in messages]
        results: list[PushResult | None] = [None] * len(messages)
        pending = list(range(len(messages)))
        attempt = 1
        while pending:
            try:
                self._ensure_token()
            except google.auth.exceptions.GoogleAuthError:
                if attempt == 1:
                    raise  # nothing sent yet: a credentials problem should be loud
                log.warning("FCM: no access token for retry %d; returning results so far", attempt)
                break  # keep what earlier rounds achieved; the failures stay retryable
            retryable: dict[int, tuple[PushResult, float | None]] = {}
            for start in range(0, len(pending), FCM_BATCH_LIMIT):
                chunk = pending[start : start + FCM_BATCH_LIMIT]
                outcomes = self._send_batch([built[i] for i in chunk], [messages[i].token for i in chunk])
                for index, (result, retry_after) in zip(chunk, outcomes, strict=True):
                    results[index] = result
                    if result.retryable:
                        retryable[index] = (result, retry_after)
            pending, delay = self._plan_retry(retryable, attempt)
            if pending:
                log.info(
                    "FCM: re-sending %d messages in %.2fs (attempt %d/%d)",
                    len(pending),
                    delay,
                    attempt + 1,
                    self._max_attempts,
                )
                self._sleep(delay)
                attempt += 1
        return [r for r in results if r is not None]

    def _prepare(self, message: PushMessage) -> Any:
        """What ``_send_batch`` sends for ``message``: here the ``messaging.Message`` (send_each encodes it itself);
        the libcurl transport (``transport.CurlFcmPushSender``) takes the request body ``encode_body`` sized."""
        return self.build_message(message)

    def _send_batch(self, batch: list[Any], tokens: list[str]) -> list[tuple[PushResult, float | None]]:
        """One batch on the wire, here by firebase-admin's own ``send_each`` (one thread per message); the
        libcurl transport overrides this."""
        try:
            response = messaging.send_each(batch, app=self._app)
        except exceptions.FirebaseError as exc:
            # Whole-batch failure (send_each wraps unexpected errors in UnknownError): report it per
            # message so results of earlier batches are kept and nothing accepted is sent twice.
            return [self._failure(token, exc) for token in tokens]
        out: list[tuple[PushResult, float | None]] = []
        for token, resp in zip(tokens, response.responses, strict=True):
            if resp.success:
                out.append((PushResult(token=token, accepted=True, message_id=resp.message_id), None))
            else:
                out.append(self._failure(token, resp.exception))
        return out

    def _failure(self, token: str, exc: exceptions.FirebaseError) -> tuple[PushResult, float | None]:
        result = PushResult(
            token=token,
            accepted=False,
            error_code=_error_code(exc),
            retryable=isinstance(exc, _RETRYABLE),
            token_invalid=isinstance(exc, messaging.UnregisteredError),
        )
        return result, _retry_after_seconds(exc)

    def _plan_retry(
        self, failures: dict[int, tuple[PushResult, float | None]], attempt: int
    ) -> tuple[list[int], float]:
        """Which retryable failures to re-send in-process, and after how long."""
        if attempt >= self._max_attempts:
            return [], 0.0
        # A long Retry-After should not block the caller, and FCM asks for >= 1 min before re-sending
        # after a quota 429 that carries no Retry-After: both are returned as they are (retryable=True)
        # for the dispatcher to reschedule. The rest wait for the round's longest Retry-After, if any.
        retry: list[int] = []
        hints: list[float] = []
        for index, (result, retry_after) in failures.items():
            if retry_after is None and result.error_code not in _QUOTA_CODES:
                retry.append(index)
            elif retry_after is not None and retry_after <= self._max_retry_after:
                retry.append(index)
                hints.append(retry_after)
        if not retry:
            return [], 0.0
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
        delay = self._rng.uniform(ceiling / 2, ceiling)  # "equal jitter": spread out, but never ~0
        return sorted(retry), max([delay, *hints])

    def _ensure_token(self) -> None:
        # Fetch the OAuth token once before fanning out: send_each runs up to 500 threads, and each
        # would otherwise run its own JWT-bearer grant when the token is missing or stale.
        with self._token_lock:
            if not self._google_credential.valid:
                self._google_credential.refresh(google.auth.transport.requests.Request())

    # -- message building --------------------------------------------------------------------------

    def build_message(self, message: PushMessage) -> messaging.Message:
        """The FCM message for one push; raises ValueError if it is invalid or its payload exceeds 4 KB."""
        return self.build_encoded(message)[0]

    def build_encoded(self, message: PushMessage) -> tuple[messaging.Message, bytes]:
        """The FCM message for one push and its ``messages:send`` request body, encoded once by firebase-admin's
        encoder (which also validates it) and size-checked from that same encoding; raises ValueError if the
        message is invalid or its payload exceeds 4 KB."""
        collapse_key = _checked_collapse_key(message)
        return self._encode_full(message, collapse_key, str(int(time.time()) + message.ttl_seconds))

    def encode_body(self, message: PushMessage) -> bytes:
        """The ``messages:send`` request body for one push, size-checked: byte for byte ``build_encoded``'s, but
        firebase-admin encodes (and validates) once per message shape (``notifiers.fcm.encoding``), not per message.
        Raises ValueError as ``build_encoded`` does."""
        collapse_key = _checked_collapse_key(message)
        expiration = str(int(time.time()) + message.ttl_seconds)
        text = self._shapes.body(message, expiration)
        if text is None:  # a value or shape firebase-admin has to see (and maybe refuse) itself
            return self._encode_full(message, collapse_key, expiration)[1]
        body = text.encode()
        # As _envelope_bytes: the envelope and '"token":"…",' (the token is never the only key) are not payload.
        envelope = _ENVELOPE + len(b'"token":,') + len(encode_basestring(message.token).encode())
        _check_size(len(body) - envelope, collapse_key)
        return body

    def _encode_full(self, message: PushMessage, collapse_key: str, expiration: str) -> tuple[messaging.Message, bytes]:
        fcm_message = fcm_message_of(message, expiration)
        encoded = messaging._MessagingService.encode_message(fcm_message)
        body = request_body(encoded)
        _check_size(len(body) - _envelope_bytes(encoded), collapse_key)
        return fcm_message, body


def _checked_collapse_key(message: PushMessage) -> str:
    collapse_key = message.collapse_key
    if not collapse_key or len(collapse_key.encode()) > APNS_COLLAPSE_ID_MAX_BYTES:
        raise ValueError(f"collapse_key must be 1..{APNS_COLLAPSE_ID_MAX_BYTES} bytes (apns-collapse-id)")
    return collapse_key


def _check_size(size: int, collapse_key: str) -> None:
    if size > MAX_PAYLOAD_BYTES:
        raise ValueError(f"FCM payload for collapse_key={collapse_key!r} is {size} bytes > {MAX_PAYLOAD_BYTES}")


def fcm_message_of(message: PushMessage, expiration: str) -> messaging.Message:
    """The FCM message for one push whose APNs expiry (epoch seconds, as text) is ``expiration``; not validated
    (firebase-admin's encoder does that)."""
    collapse_key = message.collapse_key
    return messaging.Message(
        token=message.token,
        notification=messaging.Notification(title=message.title, body=message.body),
        data=dict(message.data),
        android=messaging.AndroidConfig(
            priority="high",
            ttl=message.ttl_seconds,
            collapse_key=collapse_key,
            # private: the lock screen shows only that a notification exists, not its text.
            notification=messaging.AndroidNotification(visibility="private", tag=collapse_key),
        ),
        apns=messaging.APNSConfig(
            headers={"apns-collapse-id": collapse_key, "apns-expiration": expiration},
            payload=messaging.APNSPayload(aps=messaging.Aps(sound="default", thread_id=collapse_key)),
        ),
    )


def encode_full(message: messaging.Message) -> bytes:
    """firebase-admin's encoding of ``message`` (which also validates it) as the ``messages:send`` body."""
    return request_body(messaging._MessagingService.encode_message(message))


def request_body(encoded: dict[str, Any]) -> bytes:
    """The ``messages:send`` body for a message encoded by firebase-admin (UTF-8 JSON, as compact as it gets)."""
    return json.dumps({"message": encoded}, ensure_ascii=False, separators=(",", ":")).encode()


_ENVELOPE = len(b'{"message":}')


def _envelope_bytes(encoded: dict[str, Any]) -> int:
    """Bytes of ``request_body(encoded)`` that are not payload: the envelope, and the routing token with its
    separator; so ``len(body) - _envelope_bytes(encoded) == payload_size(message)`` without a second dump."""
    if "token" not in encoded:
        return _ENVELOPE
    token_entry = len(('"token":' + json.dumps(encoded["token"], ensure_ascii=False)).encode())
    return _ENVELOPE + token_entry + (1 if len(encoded) > 1 else 0)


def payload_size(message: messaging.Message) -> int:
    """UTF-8 size of the encoded message without its routing token (conservative: the Android and APNs
    blocks count too). Hangul is 3 bytes per syllable, so characters are not a proxy."""
    # The SDK's own encoder also validates the message (types, ttl, data values are str, ...).
    encoded = dict(messaging._MessagingService.encode_message(message))
    encoded.pop("token", None)
    return len(json.dumps(encoded, ensure_ascii=False, separators=(",", ":")).encode())


def _error_code(exc: exceptions.FirebaseError) -> str:
    for exc_type, code in _FCM_CODES:
        if isinstance(exc, exc_type):
            return code
    # Generic types (InvalidArgumentError, UnavailableError, ...): FCM's own code from the body if any,
    # else the platform code ("INVALID_ARGUMENT", "UNAVAILABLE", "INTERNAL", "UNKNOWN", ...).
    response = exc.http_response
    if response is not None:
        try:
            details = response.json().get("error", {}).get("details", [])
            for detail in details:
                if detail.get("@type") == _FCM_ERROR_TYPE and detail.get("errorCode"):
                    return str(detail["errorCode"])
        except (ValueError, AttributeError):
            pass
    return str(exc.code)


def _retry_after_seconds(exc: exceptions.FirebaseError) -> float | None:
    """Retry-After of the error response, as delta-seconds or HTTP-date; None if absent or unparsable."""
    response = exc.http_response
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
