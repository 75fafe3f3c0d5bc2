"""One KRDS stylesheet for the console and the citizens' app: each serves the same file under its own static path,
links it before its own stylesheet, and neither repeats the tokens."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from beforeservice import citizen_app
from beforeservice.console import web

PACKAGE = Path(__file__).parents[2] / "beforeservice"


def test_both_apps_serve_the_one_krds_stylesheet_and_link_it_first() -> None:
    app = FastAPI()
    web.install(app)
    citizen_app.install(app)
    shared = (PACKAGE / "shared_static" / "krds.css").read_bytes()
    with TestClient(app) as client:
        for prefix in ("/console/static", "/app/static"):
            served = client.get(f"{prefix}/krds.css")
            assert served.status_code == 200 and served.content == shared
            assert served.headers["content-type"].startswith("text/css")
        # The apps' own files are still theirs.
        assert b".header .brand" in client.get("/console/static/console.css").content
        assert b".header .logout" in client.get("/app/static/app.css").content
    assert b"--krds-primary:" in shared
    for own in ("console/static/console.css", "citizen_app/static/app.css"):
        assert "--krds-primary:" not in (PACKAGE / own).read_text(encoding="utf-8")
    for template, prefix, own in (
        ("console/templates/base.j2", "/console/static", "console.css"),
        ("citizen_app/templates/base.html", "/app/static", "app.css"),
    ):
        text = (PACKAGE / template).read_text(encoding="utf-8")
        assert text.index(f'href="{prefix}/krds.css"') < text.index(f'href="{prefix}/{own}"')
    # The citizens' app keeps it for offline reading, with its own stylesheet.
    assert '"/app/static/krds.css"' in (PACKAGE / "citizen_app/static/sw.js").read_text(encoding="utf-8")
