"""A local SMS / KakaoTalk Alimtalk provider: POST /v1/messages, bearer key, idempotency keys, scripted refusals.

Stands in for a message provider's HTTP API so the real HttpMessageGateway (httpx) is tested over real HTTP.
"""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

API_KEY = "local-gateway-key"


class LocalMessageGateway:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._refusals: dict[tuple[str, str], tuple[int, str]] = {}
        self._seen: dict[str, str] = {}
        self.received: list[dict[str, Any]] = []  # accepted messages, each with its idempotency key
        self._httpd: ThreadingHTTPServer | None = None

    def refuse(self, channel: str, recipient: str, status: int, error: str) -> None:
        """Answer messages on `channel` to `recipient` with `status` (e.g. 404 no KakaoTalk account, 503)."""
        with self._lock:
            self._refusals[(channel, recipient)] = (status, error)

    def handle(self, authorization: str | None, key: str | None, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if authorization != f"Bearer {API_KEY}":
            return 401, {"error": "UNAUTHENTICATED"}
        if body.get("channel") not in ("sms", "kakao") or not body.get("recipient_ref") or not body.get("text"):
            return 400, {"error": "INVALID_MESSAGE"}
        with self._lock:
            refusal = self._refusals.get((body["channel"], body["recipient_ref"]))
            if refusal is not None:
                return refusal[0], {"error": refusal[1]}
            if key and key in self._seen:  # a repeat after a lost answer: accepted once
                return 200, {"id": self._seen[key], "duplicate": True}
            message_id = f"msg-{next(self._ids)}"
            if key:
                self._seen[key] = message_id
            self.received.append({**body, "idempotency_key": key})
        return 200, {"id": message_id}

    def __enter__(self) -> LocalMessageGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != "/v1/messages":
                    status, payload = 404, {"error": "NOT_FOUND"}
                else:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = {}
                    status, payload = gateway.handle(
                        self.headers.get("Authorization"), self.headers.get("Idempotency-Key"), body
                    )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"
