"""/docs (Swagger UI) and /redoc from files this package ships (beforeservice/api/docs_static): nothing from a CDN.

FastAPI's own pages load their scripts from a CDN without integrity checks and start Swagger UI with an inline
script; these pages load only same-origin files, under a Content-Security-Policy that allows nothing else.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "docs_static"
STATIC_URL = "/docs/static"
# Both UIs inject their own styles; ReDoc's search runs in a worker made from a blob.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)

_SWAGGER_UI = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API</title>
<link rel="stylesheet" href="{static}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script src="{static}/swagger-init.js"></script>
</body>
</html>
"""

_REDOC = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API reference</title>
</head>
<body>
<redoc spec-url="{openapi}"></redoc>
<script src="{static}/redoc.standalone.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    """Mount the vendored files and the two pages (the app is made with docs_url=None, redoc_url=None)."""
    openapi = app.openapi_url or "/openapi.json"
    fields = {"title": app.title, "static": STATIC_URL, "openapi": openapi}
    swagger_ui, redoc = _SWAGGER_UI.format(**fields), _REDOC.format(**fields)
    app.mount(STATIC_URL, StaticFiles(directory=str(STATIC)), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(swagger_ui, headers={"Content-Security-Policy": CSP})

    @app.get("/redoc", include_in_schema=False)
    def reference() -> HTMLResponse:
        return HTMLResponse(redoc, headers={"Content-Security-Policy": CSP})
