"""The approval notice is rendered from its templates (`review_approved`, stable id: the event type
kr.go.beforeservice.review.approved), in every language the templates support."""

from __future__ import annotations

from datetime import date

import pytest

from entitlements import CATALOG_DIR
from notifiers.approval_notice import approval_notice
from notifiers.rendering import APPROVAL, LANGUAGES, TEMPLATE_OF_EVENT, TEMPLATES, NotificationTemplates
from rules_engine.deadlines import DatedDeadline, DeadlineKind
from rules_engine.loader import load_catalog

CATALOG = load_catalog(CATALOG_DIR)
BENEFIT = CATALOG.benefits["parental_benefit"]
DEADLINES = (
    DatedDeadline(DeadlineKind.RETROACTIVE_WINDOW, "retroactive", date(2026, 4, 29)),
    DatedDeadline(DeadlineKind.ENTITLEMENT_ENDS, "benefit", date(2027, 2, 28)),
)
TODAY = date(2026, 3, 2)


@pytest.fixture(scope="module")
def templates() -> NotificationTemplates:
    return NotificationTemplates()


def test_the_approval_has_a_template_of_its_own_in_every_language() -> None:
    assert TEMPLATE_OF_EVENT[APPROVAL] == "review_approved" == TEMPLATE_OF_EVENT["kr.go.beforeservice.review.approved"]
    assert sorted(p.name for p in TEMPLATES.glob("review_approved.*.j2")) == sorted(
        f"review_approved.{lang}.j2" for lang in LANGUAGES
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_notice_states_the_offer_in_the_app_and_nothing_on_the_lock_screen(
    templates: NotificationTemplates, language: str
) -> None:
    texts = approval_notice(templates, BENEFIT, 1_000_000, "monthly", date(2027, 2, 28), DEADLINES, language, TODAY)
    for message, name in ((texts.message_ko, BENEFIT.name["ko"]), (texts.message_en, BENEFIT.name["en"])):
        for needle in (name, "1,000,000", "2026-04-29", "2027-02-28", BENEFIT.apply_url):
            assert needle in message
    lock = texts.lock_screen_title + texts.lock_screen_body
    assert lock.strip()
    for private in (BENEFIT.name["ko"], BENEFIT.name["en"], "1,000,000", "2026-04-29"):
        assert private not in lock


def test_the_words_are_the_recipients_language(templates: NotificationTemplates) -> None:
    def lock_title(language: str) -> str:
        return approval_notice(templates, BENEFIT, None, "once", None, (), language, TODAY).lock_screen_title

    assert lock_title("ko") == "새 혜택 안내"
    assert lock_title("en") == "A new benefit for you"
    assert lock_title("ko-easy") == "받을 수 있는 도움이 있어요"
    assert lock_title("vi") == "Thông báo hỗ trợ mới"
    texts = approval_notice(templates, BENEFIT, 1_000_000, "monthly", None, (), "ko", TODAY)
    assert texts.message_ko.startswith("담당 공무원이 확인한 결과 아래 혜택을 받으실 수 있어요.")
    assert texts.message_en.startswith("A caseworker confirmed that you can receive the benefit below.")
