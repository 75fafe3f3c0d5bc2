"""The citizens' mobile web app at /app: sign in, the inbox grouped by life event, offers, consent, devices,
preferences; installable (manifest, service worker) with FCM web push. Server-rendered, no inline script.

`install(app)` is the one line beforeservice/api.py needs.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from beforeservice.citizen_app import offer_actions, pages
from beforeservice.citizen_app.inline_style import CSP_SOURCE as STYLE
from beforeservice.citizen_app.rendering import HERE, page
from beforeservice.citizen_app.session import SignInRequired
from beforeservice.krds import with_krds

# Firebase messaging talks to these two Google APIs from the page and the service worker (only with push on).
FIREBASE_ORIGINS = "https://fcmregistrations.googleapis.com https://firebaseinstallations.googleapis.com"


def security_headers(push: bool) -> dict[str, str]:
    connect = "'self'" + (f" {FIREBASE_ORIGINS}" if push else "")
    return {
        # As the console: no inline script or handler anywhere, and the one inline style is allowed by its hash alone;
        # markup that slipped through runs nothing.
        "Content-Security-Policy": f"default-src 'self'; script-src 'self'; style-src 'self' {STYLE}; img-src 'self'; "
        f"connect-src {connect}; worker-src 'self'; manifest-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'",
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


class AppHeaders:
    """Security headers on every /app response; pages are not kept by proxies (the service worker keeps the
    last inbox on the citizen's own phone, for offline reading)."""

    def __init__(self, app: ASGIApp, push: bool) -> None:
        self.app, self.headers = app, security_headers(push)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != "/app" and not path.startswith("/app/"):
            await self.app(scope, receive, send)
            return
        static = path.startswith("/app/static/")
        added = self.headers if static else {**self.headers, "Cache-Control": "private, no-cache"}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in added.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI, push: bool = False) -> None:
    app.mount("/app/static", with_krds(HERE / "static"), name="citizen-app-static")

    @app.get("/app/sw.js", include_in_schema=False)
    def service_worker() -> Response:
        # Served from /app/ so that its scope is the whole app.
        return FileResponse(
            HERE / "static" / "sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/app/manifest.webmanifest", include_in_schema=False)
    def manifest() -> Response:
        return FileResponse(HERE / "static" / "manifest.webmanifest", media_type="application/manifest+json")

    @app.get("/app", include_in_schema=False)
    def app_root() -> Response:
        return RedirectResponse("/app/", status_code=308)

    app.include_router(pages.router)
    app.include_router(offer_actions.router)
    app.add_middleware(AppHeaders, push=push)

    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, __: SignInRequired) -> Response:
        return RedirectResponse("/app/login", status_code=303)

    @app.exception_handler(pages.NotFound)
    async def _not_found(request: Request, __: pages.NotFound) -> Response:
        return page(request, "not_found.html", {}, title="찾을 수 없습니다", status=404)
