"""The production FCM transport: HTTP v1 over libcurl (pycurl's CurlMulti), with firebase-admin still doing the
FCM parts. ``CurlFcmPushSender`` is the dispatcher's push sender (``beforeservice/bootstrap.py``).

A batch is driven by libcurl's multi interface from the calling thread, with a fixed pool of reused easy handles
on keep-alive connections. Per request Python only sets the body, starts the transfer and reads the result; HTTP
framing, chunked replies, content decoding (gzip, ...), TLS, proxies from the environment and timeouts are
libcurl's. Only the transport differs from firebase-admin's own ``send_each`` (``FcmPushSender``):

- the body is firebase-admin's encoding of the ``messaging.Message`` (``FcmPushSender.encode_body``, once per
  message shape: ``notifiers.fcm.encoding``), size-checked and posted as is;
- the URL and the FCM headers are those of the app's ``_MessagingService`` (so the ``fcm_endpoint`` override
  applied to it by ``FcmPushSender`` holds here too);
- the google-auth access token is the app credential's, shared by every request (one refresh on a 401,
  whoever saw it);
- error replies become firebase-admin's exception types through its own mapping (``_handle_fcm_httpx_error``),
  so retry policy and error codes are ``FcmPushSender``'s.

How it compares with ``send_each`` and with the aiohttp transport it replaced: docs/benchmarks.md.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import certifi
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport.requests
import httpx
import pycurl
from firebase_admin import exceptions, messaging
from firebase_admin._http_client import METRICS_HEADERS

from notifiers.fcm.sender import FcmPushSender
from notifiers.push import PushMessage, PushResult

log = logging.getLogger(__name__)

DEFAULT_CONNECTIONS = 100  # keep-alive connections to FCM; also the number of requests in flight
_Outcome = tuple[dict[str, Any] | None, exceptions.FirebaseError | None]

# A keep-alive connection the peer closed under us: sent once more on a fresh one, as firebase-admin's
# transport (read=1) does; a duplicate is replaced on the device via collapse_key/tag.
_RECONNECT = frozenset({pycurl.E_GOT_NOTHING, pycurl.E_SEND_ERROR, pycurl.E_RECV_ERROR})
_TIMEOUT = frozenset({pycurl.E_OPERATION_TIMEDOUT})
# As requests' ConnectionError (SSLError included) on the send_each path: UnavailableError, retryable.
_CONNECT = frozenset(
    {
        pycurl.E_COULDNT_CONNECT,
        pycurl.E_COULDNT_RESOLVE_HOST,
        pycurl.E_COULDNT_RESOLVE_PROXY,
        pycurl.E_SSL_CONNECT_ERROR,
        pycurl.E_PEER_FAILED_VERIFICATION,
    }
)
_READABLE = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR


class _Slot:
    """One easy handle and the buffers its callbacks fill (bound once, cleared per request)."""

    __slots__ = ("body", "curl", "header_list", "headers", "index")

    def __init__(self, curl: pycurl.Curl) -> None:
        self.curl = curl
        self.body: list[bytes] = []
        self.headers: list[bytes] = []
        self.header_list: list[str] | None = None  # the HTTPHEADER list currently set on the handle
        self.index = -1


class FcmCurlClient:
    """A CurlMulti with ``connections`` reused easy handles posting encoded messages to ``messages:send`` for one
    firebase-admin app: the URL and FCM headers are its ``_MessagingService``'s (so the ``fcm_endpoint`` override
    holds), the access token its credential's; requests give up after ``timeout`` seconds.

    Not reentrant: one batch at a time (a lock serialises callers). ``send_each`` returns, for each body in
    order, (FCM's JSON reply, None) or (None, the firebase-admin error)."""

    def __init__(
        self,
        service: messaging._MessagingService,
        credential: google.auth.credentials.Credentials,
        *,
        connections: int = DEFAULT_CONNECTIONS,
        timeout: float = 30.0,
    ) -> None:
        self._service = service
        self._credential = credential
        self._url: str = service._fcm_url
        self._fcm_headers = {**service._fcm_headers, **METRICS_HEADERS, "Content-Type": "application/json"}
        self._header_list: list[str] = []
        self._header_token: str | None = None
        self._timeout_ms = max(1, int(timeout * 1000))
        self._lock = threading.Lock()
        self._poll = select.poll()
        self._deadline: float | None = None  # when libcurl wants socket_action(SOCKET_TIMEOUT) next
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, connections)
        self._multi.setopt(pycurl.M_MAXCONNECTS, connections)  # keep them all alive between batches
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
        self._slots = [self._slot(ca_bundle) for _ in range(connections)]

    def _slot(self, ca_bundle: str) -> _Slot:
        curl = pycurl.Curl()
        slot = _Slot(curl)
        curl.setopt(pycurl.URL, self._url)
        curl.setopt(pycurl.POST, 1)
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)  # one request per keep-alive connection
        curl.setopt(pycurl.TIMEOUT_MS, self._timeout_ms)
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, self._timeout_ms)
        curl.setopt(pycurl.TCP_NODELAY, 1)
        curl.setopt(pycurl.ACCEPT_ENCODING, "")  # whatever libcurl can decode (gzip, deflate, br, zstd)
        curl.setopt(pycurl.CAINFO, ca_bundle)  # the bundle requests (the send_each path) uses
        curl.setopt(pycurl.FOLLOWLOCATION, 0)
        curl.setopt(pycurl.WRITEFUNCTION, slot.body.append)
        curl.setopt(pycurl.HEADERFUNCTION, slot.headers.append)
        curl.slot = slot  # info_read hands back the Curl object; this finds its buffers
        return slot

    @property
    def url(self) -> str:
        return self._url

    def close(self) -> None:
        with self._lock:
            for slot in self._slots:
                slot.curl.close()
            self._slots = []
            self._multi.close()

    # -- sending -----------------------------------------------------------------------------------

    def send_each(self, bodies: Sequence[bytes]) -> list[_Outcome]:
        with self._lock:
            try:
                return self._send_each(bodies)
            finally:
                for slot in self._slots:  # after an exception: nothing of this batch stays in the multi
                    if slot.index >= 0:
                        self._multi.remove_handle(slot.curl)
                        slot.index = -1

    def _send_each(self, bodies: Sequence[bytes]) -> list[_Outcome]:
        outcomes: list[_Outcome | None] = [None] * len(bodies)
        pending = deque(range(len(bodies)))
        unauthorized: set[int] = set()
        reconnected: set[int] = set()
        grant_failed = False
        free = list(self._slots)
        active = 0
        multi = self._multi
        while pending or active:
            while pending and free:
                slot = free.pop()
                index = pending.popleft()
                self._start(slot, bodies[index])
                slot.index = index  # in flight (set once added to the multi)
                active += 1
            self._wait()
            while True:
                queued, done, failed = multi.info_read()
                for curl in done:
                    active -= 1
                    slot = curl.slot
                    index, slot.index = slot.index, -1
                    multi.remove_handle(curl)
                    free.append(slot)
                    status = curl.getinfo(pycurl.RESPONSE_CODE)
                    if status == 401 and index not in unauthorized and not grant_failed:
                        # Revoked or expired early: one new grant, shared by whoever saw the same 401.
                        unauthorized.add(index)
                        try:
                            self._refresh(stale=slot.header_list)
                            pending.appendleft(index)
                            continue
                        except google.auth.exceptions.GoogleAuthError:
                            # The 401 stands (UNAUTHENTICATED) for this and any later 401 of the batch; what
                            # was accepted stays accepted.
                            log.warning("FCM: access token refresh after a 401 failed", exc_info=True)
                            grant_failed = True
                    content = b"".join(slot.body)
                    if 200 <= status < 300:
                        try:
                            outcomes[index] = json.loads(content), None
                        except ValueError as exc:
                            outcomes[index] = None, exceptions.UnknownError(f"unparsable FCM reply: {exc}", exc)
                    else:
                        headers = _parse_headers(slot.headers)
                        outcomes[index] = None, platform_error(self._service, self._url, status, headers, content)
                for curl, errno, message in failed:
                    active -= 1
                    slot = curl.slot
                    index, slot.index = slot.index, -1
                    multi.remove_handle(curl)
                    free.append(slot)
                    if errno in _RECONNECT and index not in reconnected:
                        reconnected.add(index)
                        pending.appendleft(index)
                        continue
                    outcomes[index] = None, self._transport_error(errno, message)
                if not queued:
                    break
        return [o if o is not None else (None, exceptions.UnknownError("no outcome")) for o in outcomes]

    def _start(self, slot: _Slot, body: bytes) -> None:
        curl = slot.curl
        header_list = self._auth_header_list()
        if slot.header_list is not header_list:
            curl.setopt(pycurl.HTTPHEADER, header_list)
            slot.header_list = header_list
        curl.setopt(pycurl.POSTFIELDS, body)
        slot.body.clear()
        slot.headers.clear()
        self._multi.add_handle(curl)

    def _transport_error(self, errno: int, message: str) -> exceptions.FirebaseError:
        text = f"libcurl error {errno}: {message}"
        if errno in _TIMEOUT:
            return transport_error(self._service, httpx.TimeoutException, text)
        if errno in _CONNECT or errno in _RECONNECT:
            return transport_error(self._service, httpx.ConnectError, text)
        return transport_error(self._service, httpx.TransportError, text)

    # -- libcurl's event interface (socket_action), on poll(2): no FD_SETSIZE limit as select() has ------

    def _on_socket(self, what: int, fd: int, multi: Any, socketp: Any) -> None:
        if what == pycurl.POLL_REMOVE:
            with contextlib.suppress(KeyError):  # never registered: closed before it was watched
                self._poll.unregister(fd)
            return
        mask = 0
        if what & pycurl.POLL_IN:
            mask |= select.POLLIN | select.POLLPRI
        if what & pycurl.POLL_OUT:
            mask |= select.POLLOUT
        self._poll.register(fd, mask)  # registers, or modifies a registered fd

    def _on_timer(self, timeout_ms: int) -> None:
        self._deadline = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000

    def _wait(self) -> None:
        """Wait for socket activity or libcurl's timer, and let libcurl act on it."""
        multi = self._multi
        deadline = self._deadline
        wait_ms = 1000 if deadline is None else max(0, int((deadline - time.monotonic()) * 1000 + 0.999))
        events = self._poll.poll(wait_ms)
        for fd, event in events:
            flags = 0
            if event & _READABLE:
                flags |= pycurl.CSELECT_IN
            if event & select.POLLOUT:
                flags |= pycurl.CSELECT_OUT
            if event & (select.POLLERR | select.POLLNVAL):
                flags |= pycurl.CSELECT_ERR
            multi.socket_action(fd, flags)
        deadline = self._deadline
        if not events or (deadline is not None and time.monotonic() >= deadline):
            multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)

    # -- auth --------------------------------------------------------------------------------------

    def _auth_header_list(self) -> list[str]:
        # Rebuilt only when the token changed; google-auth's apply() adds any other headers it wants.
        token = self._credential.token
        if token != self._header_token:
            # "Expect:" stops libcurl's 100-continue round trip for bodies over 1 KB.
            headers = dict(self._fcm_headers)
            self._credential.apply(headers)  # Authorization, and whatever else google-auth adds for the token
            self._header_list = [f"{k}: {v}" for k, v in headers.items()] + ["Expect:"]
            self._header_token = token
        return self._header_list

    def _refresh(self, stale: list[str] | None) -> None:
        if self._auth_header_list() is not stale:
            return  # another request of this batch already refreshed it
        self._credential.refresh(google.auth.transport.requests.Request())
        self._auth_header_list()


# The body libcurl hands over is already de-chunked and decoded: these would make httpx decode it again.
_FRAMING = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def _parse_headers(lines: list[bytes]) -> list[tuple[str, str]]:
    """Header fields of the last response block (after any 1xx), as (name, value) pairs, minus framing."""
    fields: list[tuple[str, str]] = []
    for raw in lines:
        line = raw.decode("latin-1").rstrip("\r\n")
        if line.startswith("HTTP/"):
            fields = []
        elif ":" in line:
            name, _, value = line.partition(":")
            name = name.strip()
            if name.lower() not in _FRAMING:
                fields.append((name, value.strip()))
    return fields


def platform_error(
    service: messaging._MessagingService,
    url: str,
    status: int,
    headers: Iterable[tuple[str, str]],
    content: bytes,
) -> exceptions.FirebaseError:
    """firebase-admin's own mapping of an FCM error reply (Google error body, FcmError detail), fed an httpx
    response that carries the status, headers (Retry-After) and body the transport received."""
    request = httpx.Request("POST", url)
    response = httpx.Response(status, headers=list(headers), content=content, request=request)
    error = httpx.HTTPStatusError(f"FCM replied {status}", request=request, response=response)
    return service._handle_fcm_httpx_error(error)


def transport_error(
    service: messaging._MessagingService, kind: type[httpx.TransportError], message: str
) -> exceptions.FirebaseError:
    """firebase-admin's mapping of a failure without a reply: TimeoutException → DeadlineExceededError,
    ConnectError → UnavailableError (both retryable), anything else → UnknownError."""
    return service._handle_fcm_httpx_error(kind(message))


class CurlFcmPushSender(FcmPushSender):
    """The dispatcher's push sender: FcmPushSender (message building, retry, backoff, PushResult mapping) with
    each batch sent by ``FcmCurlClient`` from the calling thread, as request bodies encoded per message shape."""

    def __init__(self, *args: Any, connections: int = DEFAULT_CONNECTIONS, **kwargs: Any) -> None:
        self._connections = connections
        self._client: FcmCurlClient | None = None
        super().__init__(*args, **kwargs)

    def _configure_service(self, endpoint: str | None, pool_size: int) -> None:
        super()._configure_service(endpoint, pool_size)  # sets the SDK's URL for the endpoint override
        service = messaging._get_messaging_service(self._app)
        timeout = float(self._app.options.get("httpTimeout") or 30.0)
        self._client = FcmCurlClient(service, self._google_credential, connections=self._connections, timeout=timeout)

    @property
    def url(self) -> str:
        assert self._client is not None
        return self._client.url

    def _prepare(self, message: PushMessage) -> bytes:
        return self.encode_body(message)  # the body size-checked is the one sent (firebase-admin's encoding)

    def _send_batch(self, batch: list[bytes], tokens: list[str]) -> list[tuple[PushResult, float | None]]:
        assert self._client is not None
        try:
            outcomes = self._client.send_each(batch)
        except pycurl.error as exc:  # the whole batch failed: UnknownError per message, as send_each's
            error = transport_error(self._client._service, httpx.TransportError, f"libcurl: {exc}")
            return [self._failure(token, error) for token in tokens]
        out: list[tuple[PushResult, float | None]] = []
        for token, (reply, error) in zip(tokens, outcomes, strict=True):
            if error is None and reply is not None:
                out.append((PushResult(token=token, accepted=True, message_id=reply.get("name")), None))
            else:
                out.append(self._failure(token, error or exceptions.UnknownError("no reply")))
        return out

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        super().close()
