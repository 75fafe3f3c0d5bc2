"""Building the engine's parts from settings (shared by the worker, the API, the scheduler and the CLI)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from beforeservice.catalog_watch import CatalogWatch
from beforeservice.database import configure_keyring, make_engine, session_factory
from beforeservice.settings import Settings
from entitlements.batch import LifeEventProcessor
from events.privacy import Pseudonymizer
from notifiers.push import PushSender
from notifiers.rendering import NotificationTemplates


def sessions(settings: Settings) -> sessionmaker[Session]:
    configure_keyring(settings)  # sealed columns (docs/privacy.md)
    return session_factory(make_engine(settings.database_url))


def pseudonymizer(settings: Settings) -> Pseudonymizer:
    return Pseudonymizer(settings.pseudonym_key.encode())


def processor(settings: Settings) -> LifeEventProcessor:
    return LifeEventProcessor(
        sessions(settings),
        CatalogWatch(settings.catalog_directory).current,
        NotificationTemplates(),
        pseudonymizer(settings),
        settings.max_event_bytes,
    )


def push_sender(settings: Settings) -> PushSender | None:
    """FCM when credentials are configured; otherwise None: notifications stay in the in-app inbox."""
    if not settings.firebase_credentials:
        return None
    from notifiers.fcm_curl import CurlFcmPushSender  # libcurl; aiohttp and send_each are slower (docs/benchmarks.md)

    return CurlFcmPushSender(
        credentials_file=settings.firebase_credentials,
        project_id=None,
        endpoint=settings.fcm_endpoint,
        app_name="beforeservice",
    )
