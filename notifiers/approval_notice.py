"""The texts of the notice a caseworker's approval sends: from the `review_approved` templates, as every text a
citizen reads, in the recipient's language on the lock screen and in Korean and English in the app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from notifiers.offer_lines import offer_line
from notifiers.rendering import APPROVAL, NotificationTemplates
from rules_engine.catalog import Benefit
from rules_engine.deadlines import DatedDeadline


@dataclass(frozen=True)
class NoticeTexts:
    lock_screen_title: str
    lock_screen_body: str
    message_ko: str
    message_en: str


def approval_notice(
    templates: NotificationTemplates,
    benefit: Benefit,
    amount_krw: int | None,
    payment: str,
    deadline: date | None,
    deadlines: Sequence[DatedDeadline],
    language: str,
    today: date,
) -> NoticeTexts:
    line = offer_line(benefit, amount_krw, payment, deadline, deadlines, today)
    title, body = templates.lock_screen(APPROVAL, language, 1)
    ko = templates.render(APPROVAL, "ko", [line])
    en = templates.render(APPROVAL, "en", [line])
    return NoticeTexts(title, body, ko.message, en.message)
