"""One Jinja2 environment escaping every template, whatever its name (what citizens and agencies wrote is
hostile markup until escaped), and the page helper every route renders through."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader

from beforeservice.api.deps import settings_of
from beforeservice.citizen_app import session as app_session

HERE = Path(__file__).resolve().parent
environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)


def push_config(request: Request) -> str:
    """The Firebase web config (public values) for the app's script, or "" without push."""
    raw = settings_of(request).firebase_web_config
    if not raw:
        return ""
    return json.dumps(json.loads(raw), separators=(",", ":"))


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    title: str,
    active: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    who = context.get("who")
    html = environment.get_template(template).render(
        **context,
        title=title,
        active=active,
        csrf=who.csrf if isinstance(who, app_session.CitizenSession) else "",
        csrf_field=app_session.CSRF_FIELD,
        push_config=push_config(request),
    )
    return HTMLResponse(html, status_code=status)
