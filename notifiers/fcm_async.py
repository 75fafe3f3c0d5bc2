"""A push sender on FCM HTTP v1 over aiohttp (``notifiers.fcm.http``), a batch multiplexed on one event loop over
a bounded keep-alive pool. The dispatcher's default is now ``notifiers.fcm.transport.CurlFcmPushSender`` (libcurl,
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

from firebase_admin import messaging

from notifiers.fcm.http import FcmHttpClient, HttpFcmPushSender


class AsyncFcmPushSender(HttpFcmPushSender[FcmHttpClient]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fcm-aiohttp", daemon=True)
        self._thread.start()
        try:
            super().__init__(*args, **kwargs)
        except BaseException:
            self._stop_loop()
            raise

    def _open_client(self, service: messaging._MessagingService, timeout: float) -> FcmHttpClient:
        async def open_client() -> FcmHttpClient:
            # aiohttp sessions belong to the loop they are created on.
            return FcmHttpClient(service, self._google_credential, connections=self._connections, timeout=timeout)

        return self._run(open_client())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def _send_each(self, batch: list[bytes]) -> messaging.BatchResponse:
        assert self._client is not None
        return self._run(self._client.send_each(batch))

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
