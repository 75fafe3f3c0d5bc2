"""A local FCM-compatible HTTP server: a test double of Google's OAuth token endpoint and FCM HTTP v1.

It lets the REAL firebase-admin / google-auth code run end to end (JWT-bearer grant, bearer auth,
``messages:send``, Google error bodies) without reaching Google. Only the parts FCM senders touch
are implemented. Run it standalone with ``python -m tests.support.fcm_server --port 8765``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import itertools
import json
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth always addresses its assertion to Google's endpoint, whatever token_uri it posts to.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
# FCM HTTP v1 accepts an access token carrying either of these scopes.
FCM_SCOPES = frozenset(
    {"https://www.googleapis.com/auth/firebase.messaging", "https://www.googleapis.com/auth/cloud-platform"}
)
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")

# The canonical Google API status for each HTTP status FCM uses; firebase-admin maps errors from it.
_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class _Failure:
    status: int
    fcm_error_code: str
    remaining: int | None  # None = fail forever
    retry_after: int | None


def google_error_body(status: int, message: str, fcm_error_code: str | None = None) -> dict[str, Any]:
    """The error envelope Google APIs return; FCM adds an FcmError detail carrying its own code."""
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _GOOGLE_STATUS.get(status, "UNKNOWN"),
    }
    if fcm_error_code:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": fcm_error_code}]
    return {"error": error}


def _jwt_segment(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return decoded


class LocalFcmServer:
    """FCM HTTP v1 + OAuth2 token endpoint on 127.0.0.1, served from a background thread.

    Use as a context manager. ``url`` is the base URL, ``received`` the accepted ``message`` dicts,
    ``token_requests`` the number of successful OAuth grants, ``send_attempts`` every send per token.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._message_ids = itertools.count(1)
        self._failures: dict[str, _Failure] = {}
        self._valid_tokens: set[str] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.received: list[dict[str, Any]] = []
        self.token_requests = 0
        self.token_claims: list[dict[str, Any]] = []  # decoded JWT assertions, for assertions in tests
        self.send_attempts: Counter[str] = Counter()  # every messages:send per device token, failed or not
        # As Google's front ends may answer: gzip (when the client accepts it) in chunked framing.
        self.gzip_chunked_replies = False
        self.accept_encodings: list[str] = []  # Accept-Encoding of every messages:send, in arrival order
        self._delays: dict[str, float] = {}
        self.refuse_grants = False  # when True the token endpoint answers every grant with invalid_grant
        self.unavailable = False  # when True every messages:send is answered 503 UNAVAILABLE (FCM down)
        self.unavailable_replies = 0

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Self:
        self._httpd = _Server((self._host, self._port), _Handler, self)
        # A short poll interval keeps stop() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="local-fcm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    # -- scripting API ------------------------------------------------------------------------------

    def fail_token(
        self,
        token: str,
        status: int,
        fcm_error_code: str,
        times: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer sends to ``token`` with a Google error (``times`` times, or forever when None)."""
        with self._lock:
            self._failures[token] = _Failure(status, fcm_error_code, times, retry_after)

    def delay_token(self, token: str, seconds: float) -> None:
        """Answer sends to ``token`` only after ``seconds`` (to exercise client timeouts)."""
        with self._lock:
            self._delays[token] = seconds

    def revoke_access_tokens(self) -> None:
        """Invalidate every issued access token, so the next send gets 401 and the client must re-grant."""
        with self._lock:
            self._valid_tokens.clear()

    def attempts(self, token: str) -> int:
        with self._lock:
            return self.send_attempts[token]

    # -- request handling (called from handler threads; return status, JSON body, extra headers) -----

    def handle_token(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.refuse_grants:
            return 400, {"error": "invalid_grant", "error_description": "refused (scripted)"}, {}
        if form.get("grant_type", [""])[0] != JWT_BEARER_GRANT or not form.get("assertion"):
            return 400, {"error": "unsupported_grant_type", "error_description": "jwt-bearer expected"}, {}
        try:
            # Structure and claims are checked (RS256, iss, aud, an FCM scope); the signature is not.
            header_b64, claims_b64, _signature = form["assertion"][0].split(".")
            header, claims = _jwt_segment(header_b64), _jwt_segment(claims_b64)
        except (ValueError, json.JSONDecodeError):
            return 400, {"error": "invalid_grant", "error_description": "malformed assertion"}, {}
        audience_ok = claims.get("aud") in (GOOGLE_TOKEN_AUDIENCE, self.token_uri)
        scope_ok = bool(FCM_SCOPES & set(str(claims.get("scope", "")).split()))
        if header.get("alg") != "RS256" or not claims.get("iss") or not audience_ok or not scope_ok:
            return 400, {"error": "invalid_grant", "error_description": "bad assertion claims"}, {}
        access_token = "ya29.local-" + secrets.token_urlsafe(24)
        with self._lock:
            self._valid_tokens.add(access_token)
            self.token_requests += 1
            self.token_claims.append(claims)
        return 200, {"access_token": access_token, "expires_in": 3600, "token_type": "Bearer"}, {}

    def handle_send(
        self, project: str, authorization: str | None, body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.unavailable:
            with self._lock:
                self.unavailable_replies += 1
            return 503, google_error_body(503, "The service is currently unavailable.", "UNAVAILABLE"), {}
        bearer = authorization[7:] if authorization and authorization.startswith("Bearer ") else None
        with self._lock:
            authorized = bearer in self._valid_tokens
        if not authorized:
            message = "Request had invalid authentication credentials."
            return 401, google_error_body(401, message), {"WWW-Authenticate": 'Bearer realm="local-fcm"'}
        try:
            message = json.loads(body)["message"]
            # firebase-admin >= 7.5 also offers Message.fid (installation ID); accept either target.
            target = message.get("token") or message.get("fid")
        except (ValueError, KeyError, TypeError, AttributeError):
            return 400, google_error_body(400, "Invalid JSON payload received.", "INVALID_ARGUMENT"), {}
        if not isinstance(target, str) or not target:
            return 400, google_error_body(400, "Recipient of the message is not set.", "INVALID_ARGUMENT"), {}
        with self._lock:
            delay = self._delays.get(target)
        if delay:
            time.sleep(delay)
        with self._lock:
            self.send_attempts[target] += 1
            failure = self._failures.get(target)
            if failure is not None and (left := failure.remaining) is not None:
                if left <= 0:
                    failure = None  # scripted failures used up: behave normally again
                else:
                    failure.remaining = left - 1
            if failure is None:
                self.received.append(message)
                return 200, {"name": f"projects/{project}/messages/{next(self._message_ids)}"}, {}
        headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
        text = f"Scripted failure {failure.fcm_error_code} for this registration token."
        return failure.status, google_error_body(failure.status, text, failure.fcm_error_code), headers


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # firebase-admin's send_each opens up to 500 connections at once; the default backlog of 5 would
    # make the kernel drop SYNs and the client stall for a 1 s retransmit.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fcm: LocalFcmServer) -> None:
        self.fcm = fcm
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, conn: socket.socket, is_open: bool) -> None:
        with self._connections_lock:
            if is_open:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) before a delayed reply is expected, not worth a traceback.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        # Keep-alive handler threads block reading the next request; shutting the sockets ends them.
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: firebase-admin reuses pooled connections
    # Headers and body leave in one segment (buffered wfile, flushed per request by the stdlib) and
    # Nagle is off: otherwise each response waits ~40 ms on the client's delayed ACK.
    wbufsize = -1
    disable_nagle_algorithm = True
    server_version = "LocalFCM/1.0"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # per-request logging to stderr costs more than the request itself

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        if self.server.fcm.gzip_chunked_replies and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            self._reply_gzip_chunked(status, data, headers)
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))  # required for keep-alive framing
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _reply_gzip_chunked(self, status: int, data: bytes, headers: dict[str, str] | None) -> None:
        compressed = gzip.compress(data)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        half = len(compressed) // 2  # two chunks, so the client has to reassemble them
        for chunk in (compressed[:half], compressed[half:]):
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def do_POST(self) -> None:
        body = self._body()  # always drain the body so the connection stays usable
        fcm = self.server.fcm
        path = self.path.split("?", 1)[0]
        if path == "/token":
            self._reply(*fcm.handle_token(parse_qs(body.decode())))
            return
        match = _SEND_PATH.match(path)
        if match:
            with fcm._lock:
                fcm.accept_encodings.append(self.headers.get("Accept-Encoding") or "")
            self._reply(*fcm.handle_send(match["project"], self.headers.get("Authorization"), body))
            return
        self._reply(404, google_error_body(404, f"Unknown path {path}"))

    def do_GET(self) -> None:
        self._reply(404, google_error_body(404, f"Unknown path {self.path}"))


def write_service_account(path: str | Path, token_uri: str, project_id: str = "before-service-test") -> Path:
    """Write a valid-looking service-account JSON with a fresh RSA key whose token_uri is ``token_uri``.

    google-auth signs its JWT-bearer assertion with this key and posts it to ``token_uri``, so pointing
    it at LocalFcmServer exercises the real OAuth code path.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode()
    email = f"firebase-adminsdk-test@{project_id}.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": uuid.uuid4().hex,
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}",
        "universe_domain": "googleapis.com",
    }
    target = Path(path)
    target.write_text(json.dumps(info, indent=2))
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local FCM HTTP v1 + OAuth token endpoint (test double).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--write-service-account", metavar="PATH", help="also write a service-account JSON pointing here"
    )
    parser.add_argument("--project-id", default="before-service-test")
    args = parser.parse_args(argv)
    with LocalFcmServer(args.host, args.port) as server:
        if args.write_service_account:
            write_service_account(args.write_service_account, server.token_uri, args.project_id)
            print(f"service account written to {args.write_service_account}", flush=True)
        print(f"local FCM listening on {server.url} (token endpoint {server.token_uri})", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
