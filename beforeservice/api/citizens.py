"""Citizen routes for how they are told: consents, devices (FCM tokens), preferences, and opening a notification.

Every route reads or changes only the calling citizen's data (another id is answered 404, as elsewhere).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Annotated, Literal

from fastapi import APIRouter, Body, HTTPException, Response
from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema, model_validator
from sqlalchemy.orm import Session

from beforeservice.api.deps import CitizenDep, SessionsDep, SettingsDep
from beforeservice.auth import own_citizen_id
from notifiers import consent, devices, preferences
from notifiers.fallback import mark_opened
from rules_engine.categories import ConsentCategory

router = APIRouter(prefix="/v1/citizens/{citizen_id}", tags=["citizens"])

# The enum's values, described inline (as the Literal it replaces was), so the OpenAPI document does not change.
Category = Annotated[
    str,
    AfterValidator(ConsentCategory),
    WithJsonSchema({"enum": [c.value for c in ConsentCategory], "title": "Category", "type": "string"}),
]
Channel = Literal["push", "sms", "kakao"]
# Every (category, channel) pair twice over is more than any app sends in one change.
MAX_CONSENT_CHANGES = 36
TEXT_VERSION = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$"  # e.g. 2026-01

# SQLite gives datetimes back naive (they are stored in UTC): say so, as RFC 3339 `date-time` requires.
UtcDateTime = Annotated[datetime, AfterValidator(lambda at: at if at.tzinfo else at.replace(tzinfo=UTC))]


class ConsentChange(BaseModel):
    category: Category
    channel: Channel
    granted: bool
    text_version: str | None = Field(
        default=None,
        pattern=TEXT_VERSION,
        description="The consent text shown (e.g. 2026-01: letters, digits, . _ -, at most 32); default: the current",
    )


class ConsentView(BaseModel):
    category: str
    channel: str
    granted: bool
    text_version: str
    granted_at: UtcDateTime
    withdrawn_at: UtcDateTime | None


class DeviceRegistration(BaseModel):
    token: str = Field(min_length=1, max_length=512)
    platform: Literal["android", "ios", "web"]


class DeviceView(BaseModel):
    token_suffix: str  # the full token is a credential to push to the phone: never echoed back
    platform: str
    last_refreshed_at: UtcDateTime


LOCAL_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"  # HH:MM, Asia/Seoul wall clock


class Preferences(BaseModel):
    language: Literal["ko", "en", "vi"] = "ko"
    easy_read: bool = False
    quiet_hours_start: str | None = Field(
        default=None, pattern=LOCAL_TIME, description="From when (HH:MM, Seoul) non-urgent pushes wait; null: default"
    )
    quiet_hours_end: str | None = Field(
        default=None, pattern=LOCAL_TIME, description="Until when (HH:MM, Seoul); equal to the start: no quiet hours"
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> Preferences:
        if (self.quiet_hours_start is None) != (self.quiet_hours_end is None):
            raise ValueError("quiet_hours_start and quiet_hours_end are set together (or both null for the default)")
        return self

    def quiet(self) -> tuple[time, time] | None:
        if self.quiet_hours_start is None or self.quiet_hours_end is None:
            return None
        return time.fromisoformat(self.quiet_hours_start), time.fromisoformat(self.quiet_hours_end)


def _consent_views(session: Session, citizen_id: str) -> list[ConsentView]:
    return [
        ConsentView(
            category=c.category,
            channel=c.channel,
            granted=c.withdrawn_at is None,
            text_version=c.text_version,
            granted_at=c.granted_at,
            withdrawn_at=c.withdrawn_at,
        )
        for c in consent.consents_of(session, citizen_id)
    ]


@router.get("/consents", response_model=list[ConsentView])
def get_consents(citizen_id: str, who: CitizenDep, sessions: SessionsDep) -> list[ConsentView]:
    own_citizen_id(citizen_id, who)
    with sessions() as session:
        return _consent_views(session, citizen_id)


@router.put("/consents", response_model=list[ConsentView])
def change_consents(
    citizen_id: str,
    changes: Annotated[list[ConsentChange], Body(max_length=MAX_CONSENT_CHANGES)],
    who: CitizenDep,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> list[ConsentView]:
    """Grant or withdraw opt-ins; a withdrawal applies to the very next send."""
    own_citizen_id(citizen_id, who)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        for change in changes:
            if change.granted:
                version = change.text_version or settings.consent_text_version
                consent.grant(session, citizen_id, change.category, change.channel, version, now)
            else:
                consent.withdraw(session, citizen_id, change.category, change.channel, now)
    with sessions() as session:
        return _consent_views(session, citizen_id)


@router.get("/devices", response_model=list[DeviceView])
def get_devices(citizen_id: str, who: CitizenDep, sessions: SessionsDep) -> list[DeviceView]:
    own_citizen_id(citizen_id, who)
    with sessions() as session:
        return [
            DeviceView(token_suffix=d.token[-6:], platform=d.platform, last_refreshed_at=d.last_refreshed_at)
            for d in devices.devices_of(session, citizen_id)
        ]


@router.put("/devices", response_model=DeviceView)
def register_device(citizen_id: str, device: DeviceRegistration, who: CitizenDep, sessions: SessionsDep) -> DeviceView:
    """Register a device or refresh its token (the app calls this at start and when FCM rotates the token)."""
    own_citizen_id(citizen_id, who)
    with sessions.begin() as session:
        row = devices.register(session, citizen_id, device.token, device.platform, datetime.now(UTC))
        return DeviceView(token_suffix=row.token[-6:], platform=row.platform, last_refreshed_at=row.last_refreshed_at)


@router.delete("/devices/{token}", status_code=204)
def remove_device(citizen_id: str, token: str, who: CitizenDep, sessions: SessionsDep) -> Response:
    own_citizen_id(citizen_id, who)
    with sessions.begin() as session:
        if not devices.remove(session, citizen_id, token):
            raise HTTPException(404, "not found")
    return Response(status_code=204)


@router.get("/preferences", response_model=Preferences)
def get_preferences(citizen_id: str, who: CitizenDep, sessions: SessionsDep) -> Preferences:
    own_citizen_id(citizen_id, who)
    with sessions() as session:
        row = preferences.preferences_of(session, citizen_id)
        if row is None:
            return Preferences()
        return Preferences(
            language=row.language,  # type: ignore[arg-type]
            easy_read=row.easy_read,
            quiet_hours_start=row.quiet_start.strftime("%H:%M") if row.quiet_start else None,
            quiet_hours_end=row.quiet_end.strftime("%H:%M") if row.quiet_end else None,
        )


@router.put("/preferences", response_model=Preferences)
def set_preferences(citizen_id: str, body: Preferences, who: CitizenDep, sessions: SessionsDep) -> Preferences:
    own_citizen_id(citizen_id, who)
    with sessions.begin() as session:
        preferences.set_preferences(session, citizen_id, body.language, body.easy_read, datetime.now(UTC), body.quiet())
    return body


@router.post("/notifications/{notification_id}/opened", status_code=204)
def notification_opened(citizen_id: str, notification_id: str, who: CitizenDep, sessions: SessionsDep) -> Response:
    """The app shows the notification: it counts as opened, so no fallback channel chases it."""
    own_citizen_id(citizen_id, who)
    with sessions.begin() as session:
        if not mark_opened(session, citizen_id, notification_id, datetime.now(UTC)):
            raise HTTPException(404, "not found")
    return Response(status_code=204)
