"""What the app's pages show, as plain data for the templates: offers grouped by the life event that brought
them, amounts with their unit, every dated deadline with its kind and a countdown, statuses, corrections.

Pure functions over the rows (and the catalog): the routes read, these shape, the templates only print.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from beforeservice.citizen_app.i18n import DEADLINE_WORDS, STATUS_WORDS, catalog_text, life_event_title, words
from beforeservice.console.offers import DeadlineView
from entitlements.persistence.tables import EntitlementRow
from notifiers.rendering import shared_templates
from notifiers.tables import NotificationRow
from rules_engine.catalog import Catalog
from rules_engine.deadlines import LABEL, DeadlineKind

# Korean first: how a citizen would say what happened (the life event of the notification).
LIFE_EVENTS = {
    "birth.registered": "아이가 태어났어요",
    "death.registered": "가족을 떠나보냈어요",
    "address.moved": "이사했어요",
    "marriage.registered": "결혼했어요",
    "employment.lost": "일자리를 잃었어요",
    "disability.registered": "장애 등록을 했어요",
    "income.assessed": "소득·재산 조사 결과가 나왔어요",
    "milestone.reached": "새로 받을 수 있게 되었어요",
    "application.received": "신청이 접수되었어요",
    "benefit.granted": "지급이 결정되었어요",
}
STATUS = {
    "matched": ("새 혜택", "new"),
    "notified": ("새 혜택", "new"),
    "viewed": ("확인함", "viewed"),
    "applied": ("신청함", "applied"),
    "granted": ("지급 결정", "granted"),
    "expired": ("기한 지남", "expired"),
    "ended": ("지원 종료", "expired"),
    "retracted": ("안내 취소", "retracted"),
    "rejected": ("지급 안 됨", "expired"),
}
SHOWN = frozenset(STATUS)  # pending review is the caseworker's, not yet the citizen's
PAYMENT_UNIT = {"once": "원 (한 번)", "monthly": "원 (매달)"}


def life_event_label(event_type: str, lang: str = "ko") -> str:
    """kr.go.<agency>.<what>.<happened> → the words; an unknown type is a plain notice. Other languages (and
    easy-read) reuse the notification's own translated title."""
    parts = event_type.split(".")
    known = LIFE_EVENTS.get(".".join(parts[-2:]))
    if lang == "ko":
        return known or "안내"
    return life_event_title(shared_templates(), event_type, lang)


def amount_text(amount_krw: int | None, payment: str, lang: str = "ko") -> str:
    if payment == "information" or amount_krw is None:
        return words("info_only", lang)
    unit = {"once": "once", "monthly": "monthly"}.get(payment, "won")
    return f"{amount_krw:,}{words(unit, lang)}"


def countdown(last_day: date, today: date, lang: str = "ko") -> str:
    days = (last_day - today).days
    if days < 0:
        return words("passed", lang)
    return words("today", lang) if days == 0 else f"D-{days}"


def deadline_label(kind: str, lang: str) -> str:
    if lang == "vi":
        return DEADLINE_WORDS[kind]
    return LABEL[DeadlineKind(kind)]["en" if lang == "en" else "ko"]


@dataclass
class DeadlineLine:
    kind: str
    label: str
    last_day: date
    countdown: str
    passed: bool
    meaning: str
    urgent: bool


@dataclass
class OfferCard:
    id: str
    benefit_id: str
    name: str
    agency: str
    amount: str
    status: str
    status_label: str
    deadlines: list[DeadlineLine]
    correction: str | None = None  # "이전 안내 …원 → …원": an offer never changes its amount silently
    declined: bool = False


@dataclass
class LifeEventGroup:
    label: str
    event_type: str
    offers: list[OfferCard] = field(default_factory=list)


def deadline_lines(row: EntitlementRow, today: date, lang: str = "ko") -> list[DeadlineLine]:
    lines = []
    for deadline in row.dated_deadlines():
        view = DeadlineView.of(deadline, today)
        lines.append(
            DeadlineLine(
                kind=view.kind,
                label=deadline_label(view.kind, lang),
                last_day=view.last_day,
                countdown=countdown(view.last_day, today, lang),
                passed=view.passed,
                meaning=view.meaning_ko if lang in ("ko", "ko-easy") else view.meaning_en,
                urgent=not view.passed and (view.last_day - today).days <= 14,
            )
        )
    return lines


def offer_card(
    row: EntitlementRow,
    catalog: Catalog,
    today: date,
    corrected: EntitlementRow | None,
    declined: bool,
    lang: str = "ko",
) -> OfferCard | None:
    benefit = catalog.benefits.get(row.benefit_id)
    if benefit is None or row.status not in SHOWN:
        return None
    label, css = STATUS[row.status]
    if lang != "ko":
        label = (STATUS_WORDS.get(row.status) or STATUS_WORDS[css]).get(lang, label)
    correction = None
    if corrected is not None:
        before = amount_text(corrected.amount_krw, corrected.payment, lang)
        correction = words("corrected", lang, before=before, after=amount_text(row.amount_krw, row.payment, lang))
    return OfferCard(
        id=row.id,
        benefit_id=row.benefit_id,
        name=catalog_text(benefit.name, lang),
        agency=catalog_text(benefit.agency.name, lang),
        amount=amount_text(row.amount_krw, row.payment, lang),
        status=css,
        status_label=label,
        deadlines=deadline_lines(row, today, lang),
        correction=correction,
        declined=declined,
    )


def group_by_life_event(
    notifications: Iterable[NotificationRow],
    offers: Mapping[str, EntitlementRow],
    catalog: Catalog,
    today: date,
    declined: set[str],
    lang: str = "ko",
) -> list[LifeEventGroup]:
    """Newest life event first; an offer told twice (a reminder, a digest) is shown once, where it was first told."""
    groups: dict[str, LifeEventGroup] = {}
    seen: set[str] = set()
    for notification in notifications:
        key = f"{notification.event_source}|{notification.event_id}"
        group = groups.setdefault(
            key, LifeEventGroup(life_event_label(notification.event_type, lang), notification.event_type)
        )
        for offer_id in notification.offer_ids:
            row = offers.get(offer_id)
            if row is None or offer_id in seen:
                continue
            corrected = offers.get(row.corrects_id) if row.corrects_id else None
            card = offer_card(row, catalog, today, corrected, offer_id in declined, lang)
            if card is not None:
                seen.add(offer_id)
                group.offers.append(card)
    return [g for g in groups.values() if g.offers]
