"""The app speaks the citizen's language: the inbox and an offer page in Korean (default), English, Vietnamese and
easy-read Korean, chosen through the preferences API, from the API running as a process. On the English and
Vietnamese pages (and the consent centre and devices page) no Korean is left but proper names (law titles,
marked lang="ko")."""

from __future__ import annotations

import re
from datetime import date
from html.parser import HTMLParser

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.auth import issue_token
from beforeservice.bootstrap import processor
from beforeservice.citizen_app import session as app_session
from beforeservice.settings import Settings
from entitlements.batch import Record
from tests.conftest import TOKEN_SECRET, citizen_headers
from tests.support.births import birth_event, seed_household

pytestmark = pytest.mark.integration
HANGUL = re.compile(r"[\uac00-\ud7a3]+")
MOTHER = "m-lang"
# What each language's pages must say (a heading reused from the notifications, a button, the menu).
EXPECTED = {
    "ko": ("아이가 태어났어요", "신청했어요", "내 혜택"),
    "ko-easy": ("아기가 태어났어요. 축하해요", "신청했어요", "받을 수 있는 돈과 도움"),
    "en": ("Congratulations on your baby", "I applied", "My benefits"),
    "vi": ("Chúc mừng gia đình có em bé", "Tôi đã đăng ký", "Quyền lợi của tôi"),
}
# A benefit of this birth, named in each language (the catalog's text, not the app's): vi reads Vietnamese, with
# the Korean programme name kept in parentheses (marked lang="ko"), never the English name.
BENEFIT = {
    "ko": ("부모급여", "Parental Benefit"),
    "ko-easy": ("부모급여", "Parental Benefit"),
    "en": ("Parental Benefit", "Trợ cấp cho cha mẹ"),
    "vi": ("Trợ cấp cho cha mẹ", "Parental Benefit"),
}


class VisibleText(HTMLParser):
    """The text a reader sees, minus what is marked Korean on purpose (lang="ko": law titles)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._stack: list[bool] = []  # per open element: inside a lang="ko" span
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "title"):
            self._skip += 1
        if tag == "span":
            self._stack.append(dict(attrs).get("lang") == "ko")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self._skip -= 1
        if tag == "span" and self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if not self._skip and not any(self._stack):
            self.parts.append(data)


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def session_cookie() -> str:
    settings = Settings(token_secret=TOKEN_SECRET)
    token = issue_token(settings, MOTHER, "citizen")
    return app_session._serializer(settings, "beforeservice-citizen-session").dumps({"t": token, "c": "csrf"})


@pytest.mark.parametrize("language", ["ko", "ko-easy", "en", "vi"])
def test_inbox_and_offer_page_in_the_citizen_s_language(
    language: str, api: httpx.Client, sessions: sessionmaker[Session], database_url: str
) -> None:
    seed_household(sessions, "hh-lang", [MOTHER], "41110", date(2021, 5, 1))
    event = birth_event(mother=MOTHER, birth_order=2)
    record = Record(
        "life-events", 0, 0, None, event.to_structured(), [("content-type", b"application/cloudevents+json")]
    )
    assert processor(Settings(database_url=database_url)).process([record]).dead_letters == []
    chosen = {"language": language.removesuffix("-easy"), "easy_read": language == "ko-easy"}
    put = api.put(f"/v1/citizens/{MOTHER}/preferences", json=chosen, headers=citizen_headers(MOTHER))
    assert put.status_code == 200, put.text
    cookies = {app_session.COOKIE: session_cookie()}

    inbox = api.get("/app/", cookies=cookies)
    linked = re.search(r'href="/app/offers/([0-9a-f-]{36})"', inbox.text)
    assert linked is not None, inbox.text
    offer = api.get(f"/app/offers/{linked[1]}", cookies=cookies)
    assert inbox.status_code == offer.status_code == 200
    heading, button, menu = EXPECTED[language]
    html_lang = language.removesuffix("-easy")
    for page in (inbox, offer):
        assert f'<html lang="{html_lang}">' in page.text
        assert menu in visible(page.text)
    assert heading in visible(inbox.text)
    assert button in visible(offer.text)
    shown, not_shown = BENEFIT[language]
    assert shown in inbox.text and not_shown not in inbox.text
    cards = re.findall(
        r'href="/app/offers/([0-9a-f-]{36})">\s*<span class="offer-name">(.*?)</span>\s*<span class="offer-amount"',
        inbox.text,
        re.S,
    )
    parental = next((offer_id for offer_id, name in cards if shown in name), None)
    assert parental is not None, cards
    parental_page = api.get(f"/app/offers/{parental}", cookies=cookies)
    heading_of_offer = re.search(r"<h1>(.*?)</h1>", parental_page.text, re.S)
    assert heading_of_offer is not None and shown in heading_of_offer[1] and not_shown not in heading_of_offer[1]
    if language == "vi":  # the offer page's how-to-apply too, and the Korean name is marked as such
        assert "Đăng ký cùng lúc khai sinh" in visible(parental_page.text)
        assert '(<span lang="ko">부모급여</span>)' in parental_page.text
    if language in ("en", "vi"):
        consents, devices = api.get("/app/consents", cookies=cookies), api.get("/app/devices", cookies=cookies)
        for page in (inbox, offer, parental_page, consents, devices):
            assert page.status_code == 200
            assert HANGUL.findall(visible(page.text)) == [], visible(page.text)
