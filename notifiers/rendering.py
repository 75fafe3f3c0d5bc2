"""Notification texts from Jinja2 templates, in a sandbox, compiled at load so errors never wait for a send."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = ("ko", "en")
TEMPLATE_OF_EVENT = {"kr.go.mois.birth.registered": "birth_registered"}
_BLOCKS = ("title", "body", "message")


@dataclass(frozen=True)
class Rendered:
    title: str  # lock-screen safe
    body: str  # lock-screen safe
    message: str  # the in-app text: every offer with amount, deadline and how to apply


class TemplateProblem(ValueError):
    pass


def _krw(amount: int) -> str:
    return f"{amount:,}"


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
                template = self._env.get_template(f"{name}.{lang}.j2")  # raises TemplateSyntaxError at load
                missing = [b for b in _BLOCKS if b not in template.blocks]
                if missing:
                    raise TemplateProblem(f"{name}.{lang}.j2 lacks blocks {missing}")
                self._templates[(name, lang)] = template
        self._self_test()

    def _self_test(self) -> None:
        """Render every template once with a sample offer, so an undefined variable fails now, not at send."""
        sample = {
            "name_ko": "예",
            "name_en": "e",
            "agency_ko": "기관",
            "agency_en": "agency",
            "amount_krw": 1,
            "payment": "monthly",
            "deadline": "2024-01-01",
            "summary_ko": "요약",
            "summary_en": "summary",
            "apply_how_ko": "신청",
            "apply_how_en": "apply",
            "apply_url": "https://www.gov.kr",
        }
        for event_type in TEMPLATE_OF_EVENT:
            for lang in LANGUAGES:
                self.render(event_type, lang, [sample])

    def render(self, event_type: str, lang: str, offers: Sequence[Mapping[str, Any]]) -> Rendered:
        template = self._templates[(TEMPLATE_OF_EVENT[event_type], lang if lang in LANGUAGES else "ko")]
        context = template.new_context({"offers": list(offers)})
        parts = {block: "".join(template.blocks[block](context)).strip() for block in _BLOCKS}
        return Rendered(parts["title"], parts["body"], parts["message"])
