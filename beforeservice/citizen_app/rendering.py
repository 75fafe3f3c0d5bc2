"""One Jinja2 environment escaping every template, whatever its name (what citizens and agencies wrote is
hostile markup until escaped), and the page helper every route renders through."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

from beforeservice.api.deps import sessions_of, settings_of
from beforeservice.citizen_app import session as app_session
from beforeservice.citizen_app.i18n import HTML_LANG, ui_language, words
from beforeservice.citizen_app.inline_style import style_element
from notifiers.preferences import preferences_of
from notifiers.timing import SEOUL

HERE = Path(__file__).resolve().parent
environment = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
KOREAN_RUN = re.compile(r"[\uac00-\ud7a3]+(?:[\s·]+[\uac00-\ud7a3]+)*")


def korean_marked(text: str) -> Markup:
    """The text escaped, each Korean run in it marked lang="ko": a catalog text in English or Vietnamese keeps the
    programme's Korean name in parentheses (what the family will see at the counter), read by screen readers in
    Korean."""
    escaped = str(escape(text))
    return Markup(KOREAN_RUN.sub(lambda run: f'<span lang="ko">{run[0]}</span>', escaped))


environment.filters["korean_marked"] = korean_marked


def push_config(request: Request) -> str:
    """The Firebase web config (public values) for the app's script, or "" without push."""
    raw = settings_of(request).firebase_web_config
    if not raw:
        return ""
    return json.dumps(json.loads(raw), separators=(",", ":"))


def language_of_citizen(request: Request, who: object) -> str:
    """The language the citizen chose (ko, en, vi; ko-easy for easy-read Korean); Korean before sign-in."""
    if not isinstance(who, app_session.CitizenSession):
        return "ko"
    with sessions_of(request)() as db:
        chosen = preferences_of(db, who.citizen_id)
        return ui_language(chosen.language, chosen.easy_read) if chosen else "ko"


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
    lang = context.get("lang") or language_of_citizen(request, who)

    def t(key: str, **values: object) -> str:
        return words(key, lang, **values)

    html = environment.get_template(template).render(
        **{**context, "lang": lang},
        t=t,
        html_lang=HTML_LANG[lang],
        rendered_at=datetime.now(SEOUL),  # an offline copy says when it was last up to date
        title=title,
        active=active,
        csrf=who.csrf if isinstance(who, app_session.CitizenSession) else "",
        csrf_field=app_session.CSRF_FIELD,
        push_config=push_config(request),
        inline_style=style_element(),
    )
    return HTMLResponse(html, status_code=status)
