"""One KRDS stylesheet for the console and the citizens' app: each serves the same file under its own static path;
the console links it before its own stylesheet, the app inlines both; neither repeats the tokens."""

from __future__ import annotations

import base64
import hashlib
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
    console = (PACKAGE / "console/templates/base.j2").read_text(encoding="utf-8")
    assert console.index('href="/console/static/krds.css"') < console.index('href="/console/static/console.css"')


def test_the_app_inlines_krds_then_its_own_rules_allowed_by_their_hash_alone() -> None:
    """The citizens' app inlines the same two files (one round trip less on a slow phone network) and its CSP
    allows exactly that text: a style changed by anyone else's markup would not match the hash."""
    app = FastAPI()
    citizen_app.install(app)
    shared = (PACKAGE / "shared_static" / "krds.css").read_text(encoding="utf-8")
    own = (PACKAGE / "citizen_app/static/app.css").read_text(encoding="utf-8")
    with TestClient(app) as client:
        login = client.get("/app/login")
    assert login.status_code == 200
    inlined = login.text.split("<style>", 1)[1].split("</style>", 1)[0]
    assert inlined == f"{shared}\n{own}" and login.text.count("<style>") == 1
    digest = base64.b64encode(hashlib.sha256(inlined.encode("utf-8")).digest()).decode("ascii")
    policy = login.headers["content-security-policy"]
    assert f"style-src 'self' 'sha256-{digest}';" in policy and "unsafe-inline" not in policy
    assert 'rel="stylesheet"' not in login.text
