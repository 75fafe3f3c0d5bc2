"""What the API says about itself: liveness, metrics, and (development only) a token for anyone."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from beforeservice.api.deps import SettingsDep
from beforeservice.auth import issue_token

router = APIRouter()
development = APIRouter(tags=["development"])  # mounted only with DEV_MODE and DEV_LOGIN (beforeservice.api.app)


class DevLogin(BaseModel):
    subject: str
    role: str = "citizen"
    scopes: dict[str, list[str]] = {}


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


@development.post("/v1/dev/login", response_model=Token)
def dev_login(body: DevLogin, settings: SettingsDep) -> Token:
    """Development only (DEV_MODE and DEV_LOGIN true): a token for any subject and role, for the demo."""
    return Token(access_token=issue_token(settings, body.subject, body.role, body.scopes))


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
def prometheus() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
