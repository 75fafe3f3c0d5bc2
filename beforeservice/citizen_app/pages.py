"""The app's pages: sign-in, inbox, offer, consent centre, devices, preferences. Routes stay thin: they read the
session, call the same functions the JSON API runs (as the signed-in citizen), and render."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from beforeservice.api import citizens as citizen_routes
from beforeservice.api.deps import catalog_of, sessions_of, settings_of
from beforeservice.auth import Principal, issue_token
from beforeservice.citizen_app import session as app_session
from beforeservice.citizen_app.i18n import CATEGORY_WORDS, CHANNEL_WORDS, CONSENT_WORDS, catalog_text, translated, words
from beforeservice.citizen_app.inbox_view import OfferCard, deadline_lines, group_by_life_event, offer_card
from beforeservice.citizen_app.offer_actions import declined_offers, mark_applied, mark_declined
from beforeservice.citizen_app.rendering import language_of_citizen, page
from beforeservice.citizen_app.signin import PendingSignIn, SignInRefused, authorization_url, citizen_of
from beforeservice.console import offers as offer_routes
from beforeservice.settings import Settings
from entitlements.persistence.tables import EntitlementRow
from notifiers import consent, devices
from notifiers.inbox import visible_notifications
from notifiers.tables import NotificationRow
from notifiers.timing import SEOUL

router = APIRouter(prefix="/app", include_in_schema=False)

CurrentSession = Annotated[app_session.CitizenSession, Depends(app_session.current)]
CONSENT_TEXTS = {
    "childbirth_childcare": "출산·육아 혜택 안내를 받습니다 (아동수당, 첫만남이용권, 부모급여 등).",
    "elderly": "어르신 혜택 안내를 받습니다 (기초연금 등).",
    "disability": "장애인 혜택 안내를 받습니다.",
    "employment": "실업·구직 혜택 안내를 받습니다.",
    "housing": "주거 혜택 안내를 받습니다.",
    "bereavement": "사망 신고 뒤 유족 지원 안내를 받습니다 (애도 기간이 지난 뒤에만).",
}
CATEGORY_LABELS = {
    "childbirth_childcare": "출산·육아",
    "elderly": "어르신",
    "disability": "장애",
    "employment": "고용",
    "housing": "주거",
    "bereavement": "유족 지원",
}
CHANNEL_LABELS = {"push": "앱 알림", "sms": "문자", "kakao": "카카오톡"}
LANGUAGES = {"ko": "한국어", "en": "English", "vi": "Tiếng Việt"}


class NotFound(Exception):
    """Not this citizen's (or no such) offer: a page saying so, 404, the same for both."""


def _settings(request: Request) -> Settings:
    settings: Settings = settings_of(request)
    return settings


def _me(session: app_session.CitizenSession) -> Principal:
    return Principal(session.citizen_id, "citizen")


def _redirect_uri(request: Request) -> str:
    base = _settings(request).citizen_app_url
    return (base.rstrip("/") + "/login/callback") if base else str(request.url_for("citizen_app_callback"))


def _today() -> date:
    return datetime.now(SEOUL).date()


# --- sign-in ------------------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, error: str | None = None) -> Response:
    configured = bool(_settings(request).citizen_oidc_issuer)
    return page(request, "login.html", {"configured": configured, "error": error}, title="로그인")


@router.get("/login/start")
async def login_start(request: Request) -> Response:
    settings = _settings(request)
    pending = PendingSignIn.new()
    try:
        url = await authorization_url(settings, _redirect_uri(request), pending)
    except SignInRefused as exc:
        return page(request, "login.html", {"configured": False, "error": str(exc)}, title="로그인", status=503)
    response = RedirectResponse(url, status_code=303)
    app_session.remember_pending(response, settings, pending)
    return response


@router.get("/login/callback", name="citizen_app_callback")
async def login_callback(request: Request, state: str = "", code: str = "") -> Response:
    settings = _settings(request)
    pending = app_session.pending_of(request)
    try:
        if pending is None or not code:
            raise SignInRefused("the sign-in expired or was not started here (start again)")
        citizen = await citizen_of(settings, _redirect_uri(request), pending, state, code)
    except SignInRefused as exc:
        refused = page(request, "login.html", {"configured": True, "error": str(exc)}, title="로그인", status=401)
        refused.delete_cookie(app_session.PENDING_COOKIE, path=app_session.PATH)
        return refused
    response = RedirectResponse("/app/", status_code=303)
    app_session.start(response, settings, issue_token(settings, citizen, "citizen"))
    response.delete_cookie(app_session.PENDING_COOKIE, path=app_session.PATH)
    return response


@router.post("/logout")
def logout(who: CurrentSession, csrf_token: Annotated[str, Form()] = "") -> Response:
    app_session.check_csrf(who, csrf_token)
    response = RedirectResponse("/app/login", status_code=303)
    app_session.end(response)
    return response


# --- inbox and offers ---------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def inbox(request: Request, who: CurrentSession) -> Response:
    settings = _settings(request)
    cooling_off = _cooling_off(settings)
    with sessions_of(request)() as db:
        rows = visible_notifications(db, who.citizen_id, datetime.now(UTC), cooling_off)
        ids = {o for row in rows for o in row.offer_ids}
        offers = {e.id: e for e in db.scalars(select(EntitlementRow).where(EntitlementRow.id.in_(ids)))}
        corrected = {o.corrects_id for o in offers.values() if o.corrects_id} - set(offers)
        if corrected:
            offers.update({e.id: e for e in db.scalars(select(EntitlementRow).where(EntitlementRow.id.in_(corrected)))})
        declined = declined_offers(db, who.citizen_id)
    lang = language_of_citizen(request, who)
    groups = group_by_life_event(rows, offers, catalog_of(request), _today(), declined, lang)
    context = {"groups": groups, "who": who, "lang": lang}
    return page(request, "inbox.html", context, title=words("inbox", lang), active="inbox")


def _cooling_off(settings: Settings) -> timedelta:
    return timedelta(hours=settings.bereavement_cooling_off_hours)


def _offer(request: Request, who: app_session.CitizenSession, offer_id: str, lang: str = "ko") -> tuple[OfferCard, Any]:
    """The citizen's own offer (404 otherwise), marked viewed as the API's /viewed does."""
    try:
        view = offer_routes.mark_viewed(who.citizen_id, offer_id, _me(who), sessions_of(request), catalog_of(request))
    except HTTPException as exc:
        raise NotFound() from exc
    with sessions_of(request)() as db:
        row = db.get(EntitlementRow, view.id)
        corrected = db.get(EntitlementRow, row.corrects_id) if row is not None and row.corrects_id else None
        declined = offer_id in declined_offers(db, who.citizen_id)
        card = offer_card(row, catalog_of(request), _today(), corrected, declined, lang) if row else None
    if card is None:
        raise NotFound()
    return card, view


@router.get("/offers/{offer_id}", response_class=HTMLResponse)
def offer_page(request: Request, offer_id: str, who: CurrentSession, done: str | None = None) -> Response:
    lang = language_of_citizen(request, who)
    card, view = _offer(request, who, offer_id, lang)
    benefit = catalog_of(request).benefits[view.benefit_id]
    with sessions_of(request)() as db:
        row = db.get(EntitlementRow, offer_id)
        missing = list(row.missing) if row is not None else []
        lines = deadline_lines(row, _today(), lang) if row is not None else []
    context = {
        "who": who,
        "lang": lang,
        "offer": card,
        "view": view,
        "reason": view.reason_ko if lang in ("ko", "ko-easy") else view.reason_en,
        "deadlines": lines,
        "missing": missing,
        "legal": [{"ko": ref.ko, "url": ref.url} for ref in benefit.legal_basis],
        "documents": catalog_text(benefit.apply_how, lang),
        "done": done if done in ("applied", "declined") else None,
    }
    return page(request, "offer.html", context, title=card.name, active="inbox")


@router.post("/offers/{offer_id}/applied")
def offer_applied(
    request: Request, offer_id: str, who: CurrentSession, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    app_session.check_csrf(who, csrf_token)
    with sessions_of(request).begin() as db:
        mark_applied(db, who.citizen_id, offer_id, datetime.now(UTC))
    return RedirectResponse(f"/app/offers/{offer_id}?done=applied", status_code=303)


@router.post("/offers/{offer_id}/declined")
def offer_declined(
    request: Request, offer_id: str, who: CurrentSession, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    app_session.check_csrf(who, csrf_token)
    with sessions_of(request).begin() as db:
        mark_declined(db, who.citizen_id, offer_id, datetime.now(UTC))
    return RedirectResponse(f"/app/offers/{offer_id}?done=declined", status_code=303)


@router.get("/notifications/{notification_id}")
def notification_tapped(request: Request, notification_id: str, who: CurrentSession) -> Response:
    """A tap on a push: the notification counts as opened (no fallback chases it) and its offer opens (the
    inbox, where it carried several)."""
    citizen_routes.notification_opened(who.citizen_id, notification_id, _me(who), sessions_of(request))
    with sessions_of(request)() as db:
        row = db.get(NotificationRow, notification_id)
        offer_ids = list(row.offer_ids) if row is not None else []
    return RedirectResponse(f"/app/offers/{offer_ids[0]}" if len(offer_ids) == 1 else "/app/", status_code=303)


# --- consent centre, devices, preferences -------------------------------------------------------------------


@router.get("/consents", response_class=HTMLResponse)
def consents_page(request: Request, who: CurrentSession, done: str | None = None) -> Response:
    with sessions_of(request)() as db:
        current = {(c.category, c.channel): c for c in consent.consents_of(db, who.citizen_id)}
    lang = language_of_citizen(request, who)
    rows = [
        {
            "category": category,
            "label": translated(CATEGORY_LABELS[category], CATEGORY_WORDS[category], lang),
            "text": translated(CONSENT_TEXTS[category], CONSENT_WORDS[category], lang),
            "channels": [
                {
                    "channel": channel,
                    "label": translated(CHANNEL_LABELS[channel], CHANNEL_WORDS[channel], lang),
                    "granted": (c := current.get((category, channel))) is not None and c.withdrawn_at is None,
                    "version": c.text_version if c is not None else None,
                }
                for channel in CHANNEL_LABELS
            ],
        }
        for category in CATEGORY_LABELS
    ]
    context = {"who": who, "lang": lang, "rows": rows, "version": _settings(request).consent_text_version, "done": done}
    return page(request, "consents.html", context, title=words("consents", lang), active="consents")


@router.post("/consents")
def change_consent(
    request: Request,
    who: CurrentSession,
    category: Annotated[str, Form()],
    channel: Annotated[str, Form()],
    granted: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    app_session.check_csrf(who, csrf_token)
    try:
        change = citizen_routes.ConsentChange(category=category, channel=channel, granted=granted == "true")  # type: ignore[arg-type]
    except ValueError as exc:
        raise HTTPException(422, "unknown category or channel") from exc
    citizen_routes.change_consents(
        who.citizen_id, [change], _me(who), sessions_of(request), _settings(request)
    )  # a withdrawal applies to the very next send
    return RedirectResponse(f"/app/consents?done={'granted' if change.granted else 'withdrawn'}", status_code=303)


@router.get("/devices", response_class=HTMLResponse)
def devices_page(request: Request, who: CurrentSession) -> Response:
    listed = citizen_routes.get_devices(who.citizen_id, _me(who), sessions_of(request))
    lang = language_of_citizen(request, who)
    context = {"who": who, "lang": lang, "devices": listed}
    return page(request, "devices.html", context, title=words("devices", lang), active="devices")


@router.post("/devices/register")
async def register_this_device(request: Request, who: CurrentSession) -> Response:
    """The app's script registers this browser's FCM token, through the devices API's own code."""
    app_session.check_csrf(who, request.headers.get(app_session.CSRF_HEADER))
    try:
        body = citizen_routes.DeviceRegistration.model_validate(json.loads(await request.body()))
    except ValueError as exc:
        raise HTTPException(422, "a device token (1 to 512 characters) and its platform are required") from exc
    view = citizen_routes.register_device(who.citizen_id, body, _me(who), sessions_of(request))
    return Response(view.model_dump_json(), media_type="application/json")


@router.post("/devices/remove")
def remove_device(
    request: Request,
    who: CurrentSession,
    token_suffix: Annotated[str, Form(max_length=16)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    app_session.check_csrf(who, csrf_token)
    with sessions_of(request).begin() as db:
        mine = [d for d in devices.devices_of(db, who.citizen_id) if d.token.endswith(token_suffix)]
        for device in mine[:1]:
            devices.remove(db, who.citizen_id, device.token)
    return RedirectResponse("/app/devices", status_code=303)


@router.get("/preferences", response_class=HTMLResponse)
def preferences_page(request: Request, who: CurrentSession, done: str | None = None) -> Response:
    current = citizen_routes.get_preferences(who.citizen_id, _me(who), sessions_of(request))
    settings = _settings(request)
    lang = language_of_citizen(request, who)
    context = {
        "who": who,
        "lang": lang,
        "prefs": current,
        "languages": LANGUAGES,
        "quiet": (settings.quiet_hours_start, settings.quiet_hours_end),
        "done": done,
    }
    return page(request, "preferences.html", context, title=words("preferences", lang), active="preferences")


@router.post("/preferences")
def change_preferences(
    request: Request,
    who: CurrentSession,
    language: Annotated[str, Form()],
    easy_read: Annotated[str, Form()] = "",
    quiet_hours: Annotated[str, Form(max_length=8)] = "default",
    quiet_hours_start: Annotated[str, Form(max_length=8)] = "",
    quiet_hours_end: Annotated[str, Form(max_length=8)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    app_session.check_csrf(who, csrf_token)
    own = quiet_hours == "own"
    try:
        body = citizen_routes.Preferences(
            language=language,  # type: ignore[arg-type]
            easy_read=easy_read == "on",
            quiet_hours_start=quiet_hours_start if own else None,
            quiet_hours_end=quiet_hours_end if own else None,
        )
    except ValueError as exc:
        raise HTTPException(422, "language must be ko, en or vi; quiet hours HH:MM to HH:MM") from exc
    citizen_routes.set_preferences(who.citizen_id, body, _me(who), sessions_of(request))
    return RedirectResponse("/app/preferences?done=saved", status_code=303)
