"""Templates: every event type in every language, offer lines complete, lock screens bare, errors at load."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

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
        "deadline": "2024-04-29",
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
        "apply_url": "https://www.gov.kr/info",
        "apply_how_ko": "온라인",
        "apply_how_en": "online",
    },
]
DOCUMENTED_EVENTS = [
    "kr.go.mois.birth.registered",
    "kr.go.mois.death.registered",
    "kr.go.mois.address.moved",
    "kr.go.mois.marriage.registered",
    "kr.go.moel.employment.lost",
    "kr.go.mohw.disability.registered",
    "kr.go.nhis.income.assessed",
    "kr.go.beforeservice.milestone.reached",
]


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
