"""Every request and response of the API passes here first (issue #11, M1 and the low items):

- a body-size limit on every route, counted as the body streams in (a chunked upload has no Content-Length to
  trust): the event endpoints keep their own limits, everything else gets `max_body_bytes` (413);
- JSON bodies nested deeper than `MAX_JSON_DEPTH` are refused before any parser recurses into them (400);
- a lone UTF-16 surrogate (`"\\ud800"`) in any JSON string is refused, naming where it is (400): it cannot be
  stored nor produced as UTF-8;
- every response carries `X-Content-Type-Options: nosniff`, every JSON one `Cache-Control: no-store` (the inbox
  holds amounts and reasons; no cache on the way may keep them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from beforeservice.api.problems import problem

MAX_JSON_DEPTH = 32  # the deepest contract is 4 levels below the envelope; a batch adds one
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_JSON_TYPES = ("application/json", "application/problem+json", "application/schema+json")


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests arrays/objects deeper than `limit` (strings skipped, so no parsing)."""
    depth = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        if byte in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def lone_surrogate_at(body: bytes) -> str | None:
    """Where a JSON text holds a lone surrogate (a dotted path, `body` for the root), or None."""
    if not _ESCAPED_SURROGATE.search(body):  # raw UTF-8 cannot carry one: only a \\u escape can
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None  # not JSON: the route's own parser says so
    return _surrogate_path(value, "")


def _surrogate_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return (path or "body") if _has_surrogate(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if _has_surrogate(key):
                return f"{path}.<key>" if path else "<key>"
            if (found := _surrogate_path(item, f"{path}.{key}" if path else key)) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _surrogate_path(item, f"{path}.{index}" if path else str(index))) is not None:
                return found
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class RequestGuard:
    """Pure ASGI middleware, so streamed bodies are counted chunk by chunk."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _secure_headers(send)
        limit = self.limit_for(scope["path"])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length", "")
        too_large = problem(413, "Body too large", f"the body exceeds {limit} bytes", "too-large")
        if declared.isdigit() and int(declared) > limit:
            await too_large(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away: let the app see it
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        is_json = "json" in headers.get("content-type", "") or "ce-specversion" in headers
        if body and is_json and (refusal := _json_refusal(body, binary="ce-specversion" in headers)):
            await refusal(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _json_refusal(body: bytes, binary: bool) -> Any:
    if too_deep(body):
        return problem(
            400,
            "Invalid JSON",
            f"the body nests deeper than {MAX_JSON_DEPTH} levels",
            "invalid-request",
            errors=[{"field": "body", "message": f"nested deeper than {MAX_JSON_DEPTH} levels"}],
        )
    where = lone_surrogate_at(body)
    if where is None:
        return None
    field = f"data.{where}" if binary and where != "body" else ("data" if binary else where)
    return problem(
        400,
        "Invalid JSON",
        f"invalid field '{field}': a lone UTF-16 surrogate is not text",
        "invalid-request",
        errors=[{"field": field, "message": "lone UTF-16 surrogate"}],
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _secure_headers(send: Send) -> Send:
    async def secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {k.lower() for k, _ in headers}
            content_type = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), "")
            if b"x-content-type-options" not in names:
                headers.append((b"x-content-type-options", b"nosniff"))
            if content_type.startswith(_JSON_TYPES) and b"cache-control" not in names:
                headers.append((b"cache-control", b"no-store"))
            message = {**message, "headers": headers}
        await send(message)

    return secured
