"""API latency by route (beforeservice_api_request_duration_seconds), as pure ASGI middleware.

The route label is the matched route's template ("/v1/citizens/{citizen_id}/inbox"), never the raw path: a path
carries ids (personal data, and unbounded label values). A request no route matched is "unmatched". The status
label is the class ("2xx" … "5xx"); a request that raised counts as 5xx, as Starlette answers it.
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from beforeservice import metrics

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # any other: "OTHER"


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            metrics.API_REQUEST_DURATION.labels(
                route=route_of(scope),
                method=scope["method"] if scope["method"] in METHODS else "OTHER",
                status=f"{status // 100}xx",
            ).observe(time.perf_counter() - started)


def route_of(scope: Scope) -> str:
    """The template of the route the router matched (it records it in the scope), or "unmatched"."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


def install(app: FastAPI) -> None:
    """Measure every request (added last, so outermost: refusals by the request guard are measured too)."""
    app.add_middleware(RequestMetrics)
