"""The texts of the notifications a batch produced: one per intent, rendered from its offers (Jinja, memoised).

Used by the outbox writer (notifiers/outbox_writer.py), so the batch and the re-evaluation write rows alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from entitlements.matching import NotificationIntent, Offer
from notifiers.offer_lines import offer_line
from notifiers.rendering import TEMPLATE_OF_EVENT, NotificationTemplates, Rendered
from rules_engine.catalog import Catalog
from rules_engine.deadlines import DatedDeadline

_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class RenderedNotification:
    """An outbox row to be: the intent, in the recipient's language, with its lock-screen and inbox texts."""

    id: str
    recipient_id: str
    household_id: str
    event_source: str
    event_id: str
    event_type: str
    category: str
    offer_ids: tuple[str, ...]
    language: str
    lock_screen_title: str
    lock_screen_body: str
    message_ko: str
    message_en: str


class NotificationTexts:
    """Rendering is a pure function of (template, language, offer lines), and the same situations recur (a second
    child in Suwon is a second child in Suwon): Jinja is the costliest step per notification, so it is memoised."""

    def __init__(self, templates: NotificationTemplates, catalog: Catalog) -> None:
        self.templates, self.catalog = templates, catalog
        self._rendered: dict[tuple[str, str, tuple[tuple[Any, ...], ...]], Rendered] = {}

    def use_catalog(self, catalog: Catalog) -> None:
        """A new catalog (a rule edit) changes the offer lines: forget what was rendered with the old one."""
        if catalog is not self.catalog:
            self.catalog, self._rendered = catalog, {}

    def render(self, intent: NotificationIntent, offers: dict[str, Offer], language: str) -> RenderedNotification:
        bundle = [offers[i] for i in intent.offer_ids]
        event_type = intent.event_type if intent.event_type in TEMPLATE_OF_EVENT else "kr.go.mois.birth.registered"
        ko = self._render_once(event_type, "ko", bundle)
        en = self._render_once(event_type, "en", bundle)
        lock = en if language == "en" else ko
        return RenderedNotification(
            id=intent.id,
            recipient_id=intent.recipient_id,
            household_id=intent.household_id,
            event_source=intent.event_source,
            event_id=intent.event_id,
            event_type=intent.event_type,
            category=intent.category,
            offer_ids=intent.offer_ids,
            language=language,
            lock_screen_title=lock.title,
            lock_screen_body=lock.body,
            message_ko=ko.message,
            message_en=en.message,
        )

    def _render_once(self, event_type: str, language: str, bundle: list[Offer]) -> Rendered:
        # offer_line reads only these fields of an offer, and the catalog (the cache is emptied when it changes);
        # a deadline's words depend on whether it had passed on the day the offer was decided.
        key = (
            event_type,
            language,
            tuple(
                (o.benefit_id, o.amount_krw, o.payment, o.deadline, _dates(o.deadlines, o.evaluated_on)) for o in bundle
            ),
        )
        rendered = self._rendered.get(key)
        if rendered is None:
            if len(self._rendered) >= _CACHE_SIZE:
                self._rendered.clear()
            benefits = self.catalog.benefits
            lines = [
                offer_line(benefits[o.benefit_id], o.amount_krw, o.payment, o.deadline, o.deadlines, o.evaluated_on)
                for o in bundle
            ]
            rendered = self._rendered[key] = self.templates.render(event_type, language, lines)
        return rendered


def _dates(deadlines: tuple[DatedDeadline, ...], on: date) -> tuple[tuple[str, date, bool], ...]:
    return tuple((d.kind.value, d.last_day, d.passed(on)) for d in deadlines)
