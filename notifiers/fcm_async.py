"""FCM over firebase-admin's ``send_each_async`` (httpx, HTTP/2 to Google): the high-throughput push sender.

The sync ``send_each`` runs one thread per message (~450 messages/s per process measured); the async variant
multiplexes a whole batch on one event loop. The dispatcher is synchronous, so this sender keeps a private
event loop in a thread and blocks on it per batch. Retry, backoff, error mapping and message building are
FcmPushSender's (inherited): only the transport of a batch differs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator
from typing import Any

import google.auth.credentials
import google.auth.transport.requests
import httpx
from firebase_admin import exceptions, messaging

from notifiers.fcm import FcmPushSender
from notifiers.push import PushResult


class AsyncFcmPushSender(FcmPushSender):
    def __init__(self, *args: Any, max_connections: int = 200, **kwargs: Any) -> None:
        self._max_connections = max_connections
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fcm-async", daemon=True)
        self._thread.start()
        super().__init__(*args, **kwargs)

    def _configure_service(self, endpoint: str | None, pool_size: int) -> None:
        super()._configure_service(endpoint, pool_size)
        service = messaging._get_messaging_service(self._app)
        client = getattr(service, "_async_client", None)
        inner = getattr(client, "_async_client", None)
        if client is None or not isinstance(inner, httpx.AsyncClient):
            raise RuntimeError("unsupported firebase-admin: no httpx async client")
        # firebase-admin's own transport retries 500/503 itself; ours is bounded in send() (see _transport_retry).
        # A local http:// peer speaks HTTP/1.1, so the pool must be wide enough for a batch in flight.
        limits = httpx.Limits(max_connections=self._max_connections, max_keepalive_connections=self._max_connections)
        transport = httpx.AsyncHTTPTransport(http2=True, limits=limits, retries=1)
        client._async_client = httpx.AsyncClient(
            http2=True,
            timeout=inner.timeout,
            headers=inner.headers,
            auth=_BearerAuth(self._google_credential, self._token_lock),
            transport=transport,
            trust_env=False,
        )

    def _send_batch(self, batch: list[messaging.Message], tokens: list[str]) -> list[tuple[PushResult, float | None]]:
        future = asyncio.run_coroutine_threadsafe(messaging.send_each_async(batch, app=self._app), self._loop)
        try:
            response = future.result()
        except exceptions.FirebaseError as exc:
            return [self._failure(token, exc) for token in tokens]
        out: list[tuple[PushResult, float | None]] = []
        for token, resp in zip(tokens, response.responses, strict=True):
            if resp.success:
                out.append((PushResult(token=token, accepted=True, message_id=resp.message_id), None))
            else:
                out.append(self._failure(token, resp.exception))
        return out

    def close(self) -> None:
        super().close()
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)


class _BearerAuth(httpx.Auth):
    """The access token on each request. firebase-admin's flow builds a google-auth requests transport (a new
    requests.Session) per request, which capped the async path near the sync one; the token is fetched before
    each batch (FcmPushSender._ensure_token), and a 401 refreshes it once here."""

    def __init__(self, credential: google.auth.credentials.Credentials, lock: threading.Lock) -> None:
        self._credential = credential
        self._lock = lock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._credential.token}"
        response = yield request
        if response.status_code == 401:
            with self._lock:
                self._credential.refresh(google.auth.transport.requests.Request())
            request.headers["Authorization"] = f"Bearer {self._credential.token}"
            yield request
