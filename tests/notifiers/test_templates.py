"""Templates: every event type in every language, offer lines complete, lock screens bare, errors at load."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from events.contracts import CONTRACTS
from notifiers.rendering import LANGUAGES, TEMPLATE_OF_EVENT, TEMPLATES, NotificationTemplates, TemplateProblem

OFFERS: list[dict[str, Any]] = [
    {
        "benefit_id": "parental_benefit",
        "name_ko": "부모급여",
        "name_en": "Parental Benefit",
        "agency_ko": "보건복지부",
        "agency_en": "Ministry of Health and Welfare",
        "summary_ko": "만 0세 월 100만 원",
        "summary_en": "KRW 1,000,000 a month at age 0",
        "amount_krw": 1_000_000,
        "payment": "monthly",
        "deadline": "2026-02-28",
        "deadlines": [
            {"kind": "retroactive_window", "last_day": "2024-04-29", "passed": False},
            {"kind": "entitlement_ends", "last_day": "2026-02-28", "passed": False},
        ],
        "apply_url": "https://www.bokjiro.go.kr/parental",
        "apply_how_ko": "복지로 또는 주민센터",
        "apply_how_en": "Bokjiro or the community centre",
    },
    {
        "benefit_id": "childcare_information",
        "name_ko": "육아 정보",
        "name_en": "Childcare information",
        "agency_ko": "시청",
        "agency_en": "City hall",
        "summary_ko": "안내",
        "summary_en": "information",
        "amount_krw": None,
        "payment": "none",
        "deadline": None,
        "deadlines": [],
        "apply_url": "https://www.gov.kr/info",
        "apply_how_ko": "온라인",
        "apply_how_en": "online",
    },
]
DOCUMENTED_EVENTS = sorted(CONTRACTS)  # every registered life event (events/contracts.py)


@pytest.fixture(scope="module")
def templates() -> NotificationTemplates:
    return NotificationTemplates()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(
    "event_type", [*DOCUMENTED_EVENTS, "kr.go.beforeservice.digest", "kr.go.beforeservice.deadline.reminder"]
)
def test_every_offer_line_states_amount_deadline_and_link(
    templates: NotificationTemplates, event_type: str, lang: str
) -> None:
    rendered = templates.render(event_type, lang, OFFERS, days_left=3)
    assert "1,000,000" in rendered.message and "2024-04-29" in rendered.message
    assert "https://www.bokjiro.go.kr/parental" in rendered.message and "https://www.gov.kr/info" in rendered.message
    lock = rendered.title + rendered.body
    for private in ("1,000,000", "부모급여", "Parental", "2024-04-29"):
        assert private not in lock


def test_every_documented_event_has_its_own_template() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "life-events.md").read_text()
    for event_type in DOCUMENTED_EVENTS:
        assert f"`{event_type}`" in docs
        assert TEMPLATE_OF_EVENT[event_type] != "birth_registered" or event_type.endswith("birth.registered")


def test_death_is_gentle_and_job_loss_and_disability_are_neutral(templates: NotificationTemplates) -> None:
    death = templates.render("kr.go.mois.death.registered", "ko", OFFERS)
    assert "위로" in death.message and "축하" not in death.message + death.title
    for event_type in ("kr.go.moel.employment.lost", "kr.go.mohw.disability.registered"):
        for lang in ("ko", "en"):
            rendered = templates.render(event_type, lang, OFFERS)
            lock = (rendered.title + rendered.body).lower()
            for revealing in ("실직", "장애", "job", "disab", "축하", "안타깝", "sorry", "congrat"):
                assert revealing not in lock, (event_type, lang, revealing)


def test_fallback_text_links_to_the_inbox_without_details(templates: NotificationTemplates) -> None:
    text = templates.render("kr.go.beforeservice.fallback.text", "ko", OFFERS, inbox_url="https://x.example/i").message
    assert "https://x.example/i" in text and "2가지" in text and "부모급여" not in text


def test_the_pipelines_call_still_works_for_birth(templates: NotificationTemplates) -> None:
    rendered = templates.render("kr.go.mois.birth.registered", "en", OFFERS)
    assert rendered.title == "Congratulations on your baby"
    assert rendered.body == "You may receive 2 benefits. Open the app to see them."


LOCK = "{% block title %}t{% endblock %}{% block body %}b{% endblock %}"


def broken_copy(tmp_path: Path, name: str, text: str) -> Path:
    directory = tmp_path / "templates"
    shutil.copytree(TEMPLATES, directory)
    (directory / name).write_text(text)
    return directory


@pytest.mark.parametrize(
    ("name", "text", "complaint"),
    [
        (
            "marriage_registered.vi.j2",
            "{% block title %}x{% endblock %}{% block body %}{% if %}{% endblock %}",
            "vi.j2",
        ),
        ("income_assessed.en.j2", "{% block title %}x{% endblock %}{% block body %}y{% endblock %}", "lacks blocks"),
        (
            "address_moved.ko.j2",
            "{% block title %}{{ offers[0].name_ko }}{% endblock %}{% block body %}b{% endblock %}"
            "{% block message %}{{ offers[0].amount_krw }} {{ offers[0].deadline }} "
            "{{ offers[0].apply_url }}{% endblock %}",
            "address_moved.ko.j2",  # the lock screen reads an offer field: refused at load
        ),
        (
            "reminder.ko-easy.j2",
            LOCK + "{% block message %}{{ offers | length }}{% endblock %}",
            "lacks",  # an offer line without amount, deadline and link
        ),
        (
            "digest.en.j2",
            LOCK + "{% block message %}{{ ''.__class__.__mro__ }}{% endblock %}",
            "digest.en.j2",  # the sandbox refuses
        ),
    ],
)
def test_template_errors_are_caught_at_load(tmp_path: Path, name: str, text: str, complaint: str) -> None:
    with pytest.raises(TemplateProblem, match=complaint):
        NotificationTemplates(broken_copy(tmp_path, name, text))


RETROACTIVE_OPEN = {
    "ko": "2024-04-29까지 신청하면 첫 달(출생아는 태어난 달)부터",
    "en": "apply by 2024-04-29 to be paid from the first month (for a newborn, the birth month)",
    "ko-easy": "2024-04-29까지 신청하면 아기가 태어난 달부터",
    "vi": "đăng ký trước 2024-04-29 để được nhận từ tháng đầu tiên",
}
RETROACTIVE_PASSED = {
    "ko": "소급 기한(2024-04-29)이 지났어요: 지금 신청해도 받을 수 있고, 신청한 달부터",
    "en": "Back-pay window closed on 2024-04-29: you can still apply, and are paid from the month you apply",
    "ko-easy": "2024-04-29이 지났어요. 지금 신청해도 받아요",
    "vi": "Đã qua hạn truy lĩnh (2024-04-29): vẫn có thể đăng ký",
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_retroactive_window_reads_as_back_pay_never_as_the_last_day_to_apply(
    templates: NotificationTemplates, lang: str
) -> None:
    """아동수당법 제10조제2항: after the 60 days the right stands; only the months before the application are lost."""
    rendered = templates.render("kr.go.mois.birth.registered", lang, OFFERS)
    assert RETROACTIVE_OPEN[lang] in rendered.message
    passed = [{**OFFERS[0], "deadlines": [{**OFFERS[0]["deadlines"][0], "passed": True}]}]
    after = templates.render("kr.go.mois.birth.registered", lang, passed).message
    assert RETROACTIVE_PASSED[lang] in after
    assert RETROACTIVE_OPEN[lang] not in after


REMINDER_WORDS = {  # what each kind of reminder says is at stake, in Korean and English
    "application_closes": ("기한 안에 신청해야 받으실 수 있어요", "Apply by the deadline to receive it"),
    "retroactive_window": (
        "그동안의 지원금은 받지 못하고 신청한 달부터 받아요",
        "the months before your application are lost",
    ),
    "use_by": ("기한이 지나면 남은 금액은 쓸 수 없어요", "What is not used by then lapses"),
}


@pytest.mark.parametrize("kind", sorted(REMINDER_WORDS))
def test_a_reminder_says_what_its_kind_of_deadline_costs(templates: NotificationTemplates, kind: str) -> None:
    ko = templates.render("kr.go.beforeservice.deadline.reminder", "ko", OFFERS, days_left=3, kind=kind)
    en = templates.render("kr.go.beforeservice.deadline.reminder", "en", OFFERS, days_left=3, kind=kind)
    assert REMINDER_WORDS[kind][0] in ko.message and REMINDER_WORDS[kind][1] in en.message
    for other, words in REMINDER_WORDS.items():
        if other != kind:
            assert words[0] not in ko.message
    for lang in LANGUAGES:  # the lock screen stays bare whatever the kind
        title, body = templates.lock_screen("kr.go.beforeservice.deadline.reminder", lang, 1, days_left=3, kind=kind)
        assert "2024" not in title + body and "부모급여" not in title + body
