"""Notification texts from Jinja2 templates, in a sandbox, compiled and test-rendered at load so a template error
stops the process at start-up, never a send.

Each template has three blocks: ``title`` and ``body`` (the lock screen: they may use only the number of offers,
which the load-time check enforces) and ``message`` (the in-app text: every offer with amount, deadline and how
to apply).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from events.contracts import CONTRACTS

TEMPLATES = Path(__file__).parent / "templates"
EASY_READ = "ko-easy"
LANGUAGES = ("ko", "en", EASY_READ, "vi")
DIGEST = "kr.go.beforeservice.digest"
REMINDER = "kr.go.beforeservice.deadline.reminder"
FALLBACK_TEXT = "kr.go.beforeservice.fallback.text"
APPROVAL = "kr.go.beforeservice.review.approved"  # a caseworker approved an offer pending review
# Each registered life event's notice is written by its templates `{name}.{lang}.j2` (events/contracts.py); a
# missing one stops the loading below, at start-up.
TEMPLATE_OF_EVENT = {
    **{contract.event_type: contract.name or contract.event_type for contract in CONTRACTS.values()},
    "kr.go.beforeservice.rules.changed": "offer_changed",  # re-evaluation after a rule change corrected offers
    DIGEST: "digest",
    REMINDER: "reminder",
    FALLBACK_TEXT: "fallback_sms",
    APPROVAL: "review_approved",
}
_BLOCKS = ("title", "body", "message")
_LOCK_SCREEN = ("title", "body")
# What the load-time check feeds every template besides the offers (the reminder needs days_left and the kind of
# the deadline it is about, the SMS a link).
SAMPLE_CONTEXT: dict[str, Any] = {
    "days_left": 14,
    "inbox_url": "https://example.invalid/inbox",
    "kind": "application_closes",
}
# The kinds a reminder is about (rules_engine.deadlines.REMINDED), each rendered by the load-time check.
REMINDER_KINDS = ("application_closes", "retroactive_window", "use_by")
_SAMPLE_DATES = ("2024-01-31", "2024-01-21", "2024-01-22", "2024-01-23", "2023-12-24", "2023-12-25")
_SAMPLE_OFFER: dict[str, Any] = {
    "benefit_id": "sample",
    "name_ko": "예시 혜택",
    "name_en": "Sample benefit",
    "agency_ko": "기관",
    "agency_en": "Agency",
    "amount_krw": 1_234_567,
    "payment": "lump_sum",
    "deadline": "2024-01-31",
    # One of each kind, and a retroactive window both open and passed: each date must appear in every message.
    "deadlines": [
        {"kind": "application_closes", "last_day": "2024-01-31", "passed": False},
        {"kind": "retroactive_window", "last_day": "2024-01-21", "passed": False},
        {"kind": "use_by", "last_day": "2024-01-22", "passed": False},
        {"kind": "entitlement_ends", "last_day": "2024-01-23", "passed": True},
    ],
    "summary_ko": "요약",
    "summary_en": "summary",
    "apply_how_ko": "신청",
    "apply_how_en": "apply",
    "apply_url": "https://www.gov.kr/sample-apply",
}


# A second offer: a passed retroactive window (its words change), and an offer with only the legacy `deadline`.
_SAMPLE_OFFERS: list[dict[str, Any]] = [
    _SAMPLE_OFFER,
    {
        **_SAMPLE_OFFER,
        "deadline": "2023-12-25",
        "deadlines": [{"kind": "retroactive_window", "last_day": "2023-12-24", "passed": True}],
    },
    {**_SAMPLE_OFFER, "deadline": "2023-12-25", "deadlines": []},
]


@dataclass(frozen=True)
class Rendered:
    title: str  # lock-screen safe
    body: str  # lock-screen safe
    message: str  # the in-app text: every offer with amount, deadline and how to apply


class TemplateProblem(ValueError):
    pass


def _krw(amount: int) -> str:
    return f"{amount:,}"


def language_of(language: str, easy_read: bool) -> str:
    """The template language for a citizen's preferences (easy-read exists for Korean)."""
    if easy_read and language in ("ko", EASY_READ):
        return EASY_READ
    return language if language in LANGUAGES else "ko"


class NotificationTemplates:
    def __init__(self, directory: Path = TEMPLATES) -> None:
        self._env = SandboxedEnvironment(
            loader=FileSystemLoader(str(directory)),
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.filters["krw"] = _krw
        self._templates: dict[tuple[str, str], Template] = {}
        for name in TEMPLATE_OF_EVENT.values():
            for lang in LANGUAGES:
                try:
                    template = self._env.get_template(f"{name}.{lang}.j2")
                except TemplateError as error:
                    raise TemplateProblem(f"{name}.{lang}.j2: {error}") from error
                missing = [b for b in _BLOCKS if b not in template.blocks]
                if missing:
                    raise TemplateProblem(f"{name}.{lang}.j2 lacks blocks {missing}")
                self._templates[(name, lang)] = template
        self._self_test()

    def _self_test(self) -> None:
        """Render every template now, so an undefined variable or a broken rule fails at load, not at send:
        the message states amount, every dated deadline and link of every offer; the lock screen uses nothing but
        the count. A reminder is rendered for each kind of deadline it can be about."""
        for (name, lang), template in self._templates.items():
            kinds = REMINDER_KINDS if name == "reminder" else (SAMPLE_CONTEXT["kind"],)
            for kind in kinds:
                self._self_test_one(name, lang, template, {**SAMPLE_CONTEXT, "kind": kind})

    def _self_test_one(self, name: str, lang: str, template: Template, context: Mapping[str, Any]) -> None:
        try:
            rendered = self._render(template, _SAMPLE_OFFERS, context)
            self._lock_screen(template, 3, context)  # offers without any field: StrictUndefined trips
        except TemplateError as error:
            raise TemplateProblem(f"{name}.{lang}.j2: {error}") from error
        if name == "fallback_sms":
            if SAMPLE_CONTEXT["inbox_url"] not in rendered.message:
                raise TemplateProblem(f"{name}.{lang}.j2 must link to the inbox")
            return
        for needle in ("1,234,567", _SAMPLE_OFFER["apply_url"], *_SAMPLE_DATES):
            if needle not in rendered.message:
                raise TemplateProblem(f"{name}.{lang}.j2: an offer line lacks {needle!r}")
        for secret in ("1,234,567", "예시 혜택", "Sample benefit", *_SAMPLE_DATES):
            if secret in rendered.title + rendered.body:
                raise TemplateProblem(f"{name}.{lang}.j2 shows offer details on the lock screen")

    def render(self, event_type: str, lang: str, offers: Sequence[Mapping[str, Any]], **context: Any) -> Rendered:
        template = self._template(event_type, lang)
        return self._render(template, offers, {**SAMPLE_CONTEXT, **context})

    def lock_screen(self, event_type: str, lang: str, count: int, **context: Any) -> tuple[str, str]:
        """Title and body for the lock screen, from the number of offers alone (no offer data is needed)."""
        return self._lock_screen(self._template(event_type, lang), count, {**SAMPLE_CONTEXT, **context})

    def _template(self, event_type: str, lang: str) -> Template:
        name = TEMPLATE_OF_EVENT.get(event_type, "birth_registered")
        return self._templates[(name, lang if lang in LANGUAGES else "ko")]

    @staticmethod
    def _render(template: Template, offers: Sequence[Mapping[str, Any]], context: Mapping[str, Any]) -> Rendered:
        ctx = template.new_context({**context, "offers": list(offers)})
        parts = {block: "".join(template.blocks[block](ctx)).strip() for block in _BLOCKS}
        return Rendered(parts["title"], parts["body"], parts["message"])

    @staticmethod
    def _lock_screen(template: Template, count: int, context: Mapping[str, Any]) -> tuple[str, str]:
        ctx = template.new_context({**context, "offers": [{} for _ in range(count)]})
        title, body = ("".join(template.blocks[block](ctx)).strip() for block in _LOCK_SCREEN)
        return title, body


@cache
def shared_templates() -> NotificationTemplates:
    """One loaded set per process (loading compiles and test-renders every template)."""
    return NotificationTemplates()
