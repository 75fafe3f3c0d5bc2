"""A push sender on FCM HTTP v1 over aiohttp (``notifiers.fcm_http``), a batch multiplexed on one event loop over
a bounded keep-alive pool. The dispatcher's default is now ``notifiers.fcm_curl.CurlFcmPushSender`` (libcurl,
~1.4x the messages/s at ~55% of the CPU per message: docs/benchmarks.md); this one stays as the bench's
comparison path and for callers that already run an event loop.

The sync ``send_each`` runs one thread per message (~400 messages/s per process measured); firebase-admin's
``send_each_async`` (httpx) was slower still (~80–350). The dispatcher is synchronous, so this sender keeps a
private event loop in a thread and blocks on it per batch. Retry, backoff, error mapping to PushResult and
message building are FcmPushSender's (inherited): only the transport of a batch differs.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from firebase_admin import exceptions, messaging

from notifiers.fcm import FcmPushSender
from notifiers.fcm_http import DEFAULT_CONNECTIONS, FcmHttpClient
from notifiers.push import PushMessage, PushResult


class AsyncFcmPushSender(FcmPushSender):
    def __init__(self, *args: Any, connections: int = DEFAULT_CONNECTIONS, **kwargs: Any) -> None:
        self._connections = connections
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fcm-aiohttp", daemon=True)
        self._thread.start()
        self._client: FcmHttpClient | None = None
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            self._stop_loop()
            raise

    def _configure_service(self, endpoint: str | None, pool_size: int) -> None:
        super()._configure_service(endpoint, pool_size)  # sets the SDK's URL for the endpoint override
        service = messaging._get_messaging_service(self._app)
        timeout = float(self._app.options.get("httpTimeout") or 30.0)

        async def open_client() -> FcmHttpClient:
            # aiohttp sessions belong to the loop they are created on.
            return FcmHttpClient(service, self._google_credential, connections=self._connections, timeout=timeout)

        self._client = self._run(open_client())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @property
    def url(self) -> str:
        assert self._client is not None
        return self._client.url

    def _prepare(self, message: PushMessage) -> bytes:
        return self.encode_body(message)  # the body size-checked is the one sent (firebase-admin's encoding)

    def _send_batch(self, batch: list[bytes], tokens: list[str]) -> list[tuple[PushResult, float | None]]:
        assert self._client is not None
        try:
            response = self._run(self._client.send_each(batch))
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
        if self._client is not None and self._loop.is_running():
            self._run(self._client.close())
            self._client = None
        super().close()
        self._stop_loop()

    def _stop_loop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
