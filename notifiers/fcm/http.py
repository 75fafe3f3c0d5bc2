"""FCM HTTP v1 over aiohttp, with firebase-admin still doing the FCM parts.

firebase-admin's own async path (``send_each_async``) runs on httpx, whose per-request cost capped a dispatcher
near 80–350 messages/s; aiohttp does the same HTTP for a fraction of the CPU. Only the transport is replaced:

- the JSON body is firebase-admin's encoding of the ``messaging.Message`` (``_MessagingService.encode_message``),
  made by ``FcmPushSender.encode_body`` (once per message shape, ``notifiers.fcm.encoding``) for its size check
  and posted as is;
- the URL and the FCM headers are those of the app's ``_MessagingService`` (so the ``fcm_endpoint`` override
  applied to it by ``FcmPushSender`` holds here too);
- the access token is the app credential's (google-auth), fetched once and shared by every request;
- error responses become firebase-admin's exception types through its own mapping
  (``_MessagingService._handle_fcm_httpx_error``), so retry policy and error codes do not change;
- results come back as ``messaging.BatchResponse`` / ``SendResponse``, in the order of the messages.

What the libcurl transport (``notifiers.fcm.transport``) shares with this one lives here too: ``FcmClientBase`` (the
app's URL, FCM headers and credential), ``HttpFcmPushSender`` (the sender side: per-shape bodies, the client's
life cycle) and the error mapping (``platform_error``, ``transport_error``).
"""

from __future__ import annotations

import abc
import asyncio
import json
import logging
import urllib.request
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

import aiohttp
import google.auth.credentials
import google.auth.transport.requests
import httpx
import yarl
from firebase_admin import exceptions, messaging
from firebase_admin._http_client import METRICS_HEADERS

from notifiers.fcm.sender import FcmPushSender
from notifiers.push import PushMessage

log = logging.getLogger(__name__)

DEFAULT_CONNECTIONS = 100  # keep-alive connections to FCM; also the number of requests in flight
_Outcome = tuple[dict[str, Any] | None, exceptions.FirebaseError | None]


class FcmClientBase(abc.ABC):
    """A client posting encoded messages to ``messages:send`` for one firebase-admin app: the URL and FCM headers
    are its ``_MessagingService``'s (so the ``fcm_endpoint`` override holds), the access token its credential's.
    Subclasses (aiohttp here, libcurl in ``fcm_curl``) bring the transport, set up in ``_open``."""

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
        self._open(connections, timeout)

    @abc.abstractmethod
    def _open(self, connections: int, timeout: float) -> None:
        """Set up the transport: ``connections`` keep-alive connections (and requests in flight), requests that
        give up after ``timeout`` seconds."""

    @property
    def url(self) -> str:
        return self._url

    def _signed_fcm_headers(self) -> dict[str, str]:
        """The FCM headers plus those google-auth's ``apply()`` adds for the current token (Authorization, ...);
        each transport caches them in its own form until the token changes."""
        headers = dict(self._fcm_headers)
        self._credential.apply(headers)
        return headers


class FcmHttpClient(FcmClientBase):
    """One aiohttp session (bounded keep-alive pool) posting encoded messages to ``messages:send``.

    Create, use and close it on one event loop. ``send_each`` has firebase-admin's ``send_each`` contract.
    """

    def _open(self, connections: int, timeout: float) -> None:
        self._target = yarl.URL(self._url)  # parsed once, not per request
        self._headers: dict[str, str] = {}
        self._headers_token: str | None = None
        self._refresh_lock = asyncio.Lock()
        # The pool bounds connections; the semaphore keeps queued requests out of aiohttp's connector
        # (its waiter queue is FIFO but costs more per request than a semaphore).
        self._slots = asyncio.Semaphore(connections)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=60, enable_cleanup_closed=True),
            timeout=aiohttp.ClientTimeout(total=timeout),
            # Per-request costs FCM has no use for: cookies, a User-Agent, response decompression.
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            auto_decompress=False,
            trust_env=False,  # the environment's proxy is resolved once below, not on every request
        )
        self._proxy = _environ_proxy(self._target)

    async def close(self) -> None:
        await self._session.close()

    # -- sending -----------------------------------------------------------------------------------

    async def send_each(self, bodies: Sequence[bytes]) -> messaging.BatchResponse:
        """POST each request body (``encode`` / ``FcmPushSender.encode_body``); results in their order."""
        try:
            outcomes = await asyncio.gather(*(self.post(body) for body in bodies))
        except Exception as error:  # as firebase-admin's send_each_async: the whole batch failed
            raise exceptions.UnknownError(f"Unknown error while making remote service calls: {error}", error) from error
        return messaging.BatchResponse([messaging.SendResponse(resp, exc) for resp, exc in outcomes])

    async def post(self, body: bytes) -> _Outcome:
        """POST one encoded message: (FCM's JSON reply, None) or (None, the firebase-admin error)."""
        async with self._slots:
            unauthorized_once = False
            reconnected_once = False
            while True:
                headers = self._auth_headers()
                try:
                    async with self._session.post(
                        self._target, data=body, headers=headers, proxy=self._proxy
                    ) as response:
                        content = await response.read()
                        status = response.status
                        if status == 401 and not unauthorized_once:
                            # Revoked or expired early: one new grant, shared by whoever saw the same 401.
                            unauthorized_once = True
                            await self._refresh(stale=headers.get("authorization"))
                            continue
                        if 200 <= status < 300:
                            return json.loads(content), None
                        return None, platform_error(self._service, self._url, status, response.headers.items(), content)
                except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                    # A keep-alive connection the peer closed: once more on a fresh one, as firebase-admin's
                    # transport (read=1) does; a duplicate is replaced on the device via collapse_key/tag.
                    if not reconnected_once:
                        reconnected_once = True
                        continue
                    return None, transport_error(self._service, httpx.ConnectError, str(exc))
                except TimeoutError as exc:  # before ClientConnectionError: ServerTimeoutError is both
                    return None, transport_error(self._service, httpx.TimeoutException, str(exc) or "timeout")
                except aiohttp.ClientConnectionError as exc:
                    return None, transport_error(self._service, httpx.ConnectError, str(exc))
                except aiohttp.ClientError as exc:
                    return None, transport_error(self._service, httpx.TransportError, str(exc))

    # -- auth --------------------------------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        # Rebuilt only when the token changed; google-auth's apply() adds any other headers it wants.
        token = self._credential.token
        if token != self._headers_token:
            self._headers = {k.lower(): v for k, v in self._signed_fcm_headers().items()}
            self._headers_token = token
        return self._headers

    async def _refresh(self, stale: str | None) -> None:
        async with self._refresh_lock:
            if self._auth_headers().get("authorization") != stale:
                return  # another request already refreshed it
            request = google.auth.transport.requests.Request()
            await asyncio.get_running_loop().run_in_executor(None, self._credential.refresh, request)


def _environ_proxy(url: yarl.URL) -> str | None:
    """The proxy the environment names for ``url`` (HTTPS_PROXY, NO_PROXY, ...), as requests would pick it."""
    if url.host is None or urllib.request.proxy_bypass(url.host):
        return None
    return urllib.request.getproxies().get(url.scheme)


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


ClientT = TypeVar("ClientT", bound=FcmClientBase)


class HttpFcmPushSender(FcmPushSender, abc.ABC, Generic[ClientT]):
    """FcmPushSender (retry, backoff, PushResult mapping, message building) whose batches go out over its own
    HTTP client (aiohttp in ``fcm_async``, libcurl in ``fcm_curl``) as request bodies encoded per message shape.
    Subclasses open the client (``_open_client``), send a batch with it, and close it."""

    def __init__(self, *args: Any, connections: int = DEFAULT_CONNECTIONS, **kwargs: Any) -> None:
        self._connections = connections
        self._client: ClientT | None = None
        super().__init__(*args, **kwargs)

    def _configure_service(self, endpoint: str | None, pool_size: int) -> None:
        super()._configure_service(endpoint, pool_size)  # sets the SDK's URL for the endpoint override
        service = messaging._get_messaging_service(self._app)
        timeout = float(self._app.options.get("httpTimeout") or 30.0)
        self._client = self._open_client(service, timeout)

    @abc.abstractmethod
    def _open_client(self, service: messaging._MessagingService, timeout: float) -> ClientT:
        """The client for ``service``'s URL and headers, with ``self._connections`` connections."""

    @property
    def url(self) -> str:
        assert self._client is not None
        return self._client.url

    def _prepare(self, message: PushMessage) -> bytes:
        return self.encode_body(message)  # the body size-checked is the one sent (firebase-admin's encoding)
