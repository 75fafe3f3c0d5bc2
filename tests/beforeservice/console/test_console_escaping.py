"""Every console template, rendered by the console's own Jinja2 environment with markup in every string it shows
(catalog names and legal references included, which no test can plant through the running stack): all of it
comes out escaped, and nothing in the templates opts out of escaping."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from beforeservice.auth import Principal
from beforeservice.console import takeup, web
from beforeservice.console.review import CaseDetail, QueueFilter, QueueItem, TimelineEntry
from beforeservice.console.tables import AuditRow

MARK = '<x-pwn hx-post="/console/bulk" hx-trigger="load" onclick="alert(1)">'
ESCAPED = "&lt;x-pwn hx-post=&#34;/console/bulk&#34; hx-trigger=&#34;load&#34; onclick=&#34;alert(1)&#34;&gt;"
NOW = datetime(2024, 3, 5, 9, 30, tzinfo=UTC)


def _item() -> QueueItem:
    return QueueItem(
        id="3f1c9a52-0000-4000-8000-000000000001",
        benefit_id="suwon_birth_grant",
        benefit_name=MARK,
        agency=MARK,
        municipality=MARK,
        beneficiary=MARK,
        data_subject=MARK,
        status=MARK,
        amount_krw=1_000_000,
        deadline=date(2024, 6, 1),
        days_left=3,
        missing=[MARK],
        assigned_to=MARK,
        info_requested=False,
        created_at=NOW,
    )


def _funnel() -> takeup.FunnelRow:
    return takeup.FunnelRow(MARK, MARK, MARK, MARK, counts=dict.fromkeys(takeup.STAGES, 1), unreached=1)


CASE = CaseDetail(
    item=_item().model_copy(update={"status": "pending_review"}),
    citizen={key: MARK for key in ("person", "role", "birth_date", "household", "municipality", "preferred_language")},
    timeline=[TimelineEntry(NOW, MARK, MARK)],
    trace=[{"reason_ko": MARK, "when": MARK, "holds": None, "reference": MARK}],
    reason_ko=MARK,
    reason_en=MARK,
    legal_basis=MARK,
    info_request=MARK,
    rejection_reason=MARK,
    colleagues=[MARK],
)
PAGES: dict[str, dict[str, Any]] = {
    "queue.j2": {
        "items": [_item()],
        "wanted": QueueFilter(municipality=MARK),
        "colleagues": [MARK],
        "done": 1,
        "refused": 0,
        "agencies": [("suwon", MARK)],
        "benefits": [("suwon_birth_grant", MARK)],
        "statuses": list(web.STATUS_LABELS.items()),
    },
    "case.j2": {"case": CASE, "done": MARK, "error": MARK},
    "dashboard.j2": {
        "total": _funnel(),
        "groups": [_funnel()],
        "rows": [_funnel()],
        "by": "municipality",
        "stages": takeup.STAGES,
        "stage_labels": takeup.STAGE_LABELS,
    },
    "outreach.j2": {
        "tasks": [
            {
                "citizen": MARK,
                "municipality": MARK,
                "reason": MARK,
                "worth_krw": 1,
                "created_at": NOW,
                "status": MARK,
                "assigned_to": MARK,
            }
        ]
    },
    "audit.j2": {
        "entries": [
            AuditRow(
                id=1,
                at=NOW,
                account=MARK,
                role=MARK,
                ip=MARK,
                action=MARK,
                kind=MARK,
                data_subject=MARK,
                object_id=MARK,
            )
        ],
        "checked": 1,
        "breaks": [],
    },
    "error.j2": {"title": MARK, "message": MARK},
    "login.j2": {"error": MARK, "username": MARK},
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_shown_string_is_escaped(name: str) -> None:
    who = Principal(MARK, "supervisor", {"agencies": ["*"], "municipalities": ["*"]})
    base = {
        "who": None if name == "login.j2" else who,
        "csrf": "token",
        "csrf_field": "csrf_token",
        "status_labels": web.STATUS_LABELS,
        "action_labels": web.ACTION_LABELS,
    }
    html = web.environment.get_template(name).render(**base, **PAGES[name])
    assert "<x-pwn" not in html
    assert ESCAPED in html


def test_every_template_is_autoescaped_and_none_opts_out() -> None:
    names = web.environment.list_templates()
    assert names and all(web.environment.autoescape(name) for name in names)  # type: ignore[operator]
    assert web.environment.from_string("{{ v }}").render(v=MARK) == ESCAPED
    assert web.templates.env is web.environment
    for name in names:
        source = (web.HERE / "templates" / name).read_text()
        assert "|safe" not in source.replace(" ", "") and "autoescape false" not in source, name
    assert "Markup(" not in (web.HERE / "web.py").read_text()
