"""One bootstrap for every process: the worker, the dispatcher, the scheduler, the API and the CLI commands.

A `Process` builds each part once, on first use, from the settings: the keyring that seals personal data at rest,
the one engine (and its sessions), the catalog watch (a rule edit reaches every process without a restart), the
pseudonymizer, the notification templates and the FCM sender. `close()` disposes of what was built.

The keyring is still a process-wide one for the sealed column types (entitlements/persistence/sealed_columns.py
reads it when a value is bound or read, where only the dialect is at hand); `configure_keyring` here is the one
place that installs it, and `make_engine` no longer does it behind the caller's back.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.catalog_watch import CatalogWatch
from beforeservice.console.closing import AgencyLoopClosing
from beforeservice.database import alembic_config, make_engine, session_factory, upgrade
from beforeservice.logs import configure_logging
from beforeservice.settings import Settings
from beforeservice.tracing import configure_tracing, traced
from entitlements.batch import MAX_EVENT_BYTES, LifeEventProcessor
from entitlements.persistence.sealed_columns import install_keyring
from entitlements.persistence.sealing import DEV_DATA_KEYS, Keyring
from entitlements.persistence.uow import SqlUnitOfWork
from entitlements.reevaluation import Reevaluator
from events.privacy import Pseudonymizer
from notifiers.outbox_writer import NotificationOutbox
from notifiers.push import PushSender
from notifiers.rendering import NotificationTemplates, shared_templates
from rules_engine.catalog import Catalog

log = logging.getLogger(__name__)
T = TypeVar("T")


def configure_keyring(settings: Settings) -> Keyring:
    """The keyring that seals personal data at rest (DATA_KEYS; docs/privacy.md), installed for this process."""
    if settings.data_keys.strip():
        keyring = Keyring.parse(settings.data_keys)
    else:
        log.warning(
            "DATA_KEYS is not set: personal data is sealed with the dev-only key; set DATA_KEYS in production "
            "(beforeservice keys generate)"
        )
        keyring = Keyring.parse(DEV_DATA_KEYS)
    install_keyring(keyring)
    return keyring


def observe(role: str, settings: Settings) -> None:
    """What an operator sees of this process (docs/observability.md): its logs (LOG_FORMAT, LOG_LEVEL) and traces
    (OTEL_* variables; off by default). Called once, first thing, by each process's command (api, worker,
    dispatcher, scheduler); Faust configures the worker's logs itself, from beforeservice/faust_app.py."""
    if role != "worker":
        configure_logging(role, settings.log_format, settings.log_level)
    configure_tracing(role)


class SchemaNotReady(RuntimeError):
    """The database's schema is behind this code's migrations (and is not the embedded default to migrate)."""


class Process:
    """What one engine process is built from; each part is built once, when first asked for (thread-safe)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[str, object] = {}
        self._lock = threading.RLock()  # the scheduler's jobs run in a thread pool: two must not build two engines

    def _once(self, name: str, build: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._built:
                self._built[name] = build()
            return self._built[name]  # type: ignore[return-value]

    @property
    def keyring(self) -> Keyring:
        return self._once("keyring", lambda: configure_keyring(self.settings))

    @property
    def engine(self) -> Engine:
        def build() -> Engine:
            self.keyring  # noqa: B018 - sealed columns need it before the first statement
            return make_engine(self.settings.database_url)

        return self._once("engine", build)

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self._once("sessions", lambda: session_factory(self.engine))

    @property
    def catalog_watch(self) -> CatalogWatch:
        return self._once(
            "catalog_watch",
            lambda: CatalogWatch(self.settings.catalog_directory, self.settings.catalog_check_seconds),
        )

    def catalog(self) -> Catalog:
        """The catalog in force now (reloaded when its files changed and the new version loads)."""
        return self.catalog_watch.current()

    @property
    def pseudonymizer(self) -> Pseudonymizer:
        return self._once("pseudonymizer", lambda: pseudonymizer(self.settings))

    @property
    def templates(self) -> NotificationTemplates:
        return shared_templates()  # loading compiles and test-renders every template: once per process

    @property
    def push_sender(self) -> PushSender | None:
        return self._once("push_sender", lambda: traced(push_sender(self.settings)))  # a span per push if tracing

    @property
    def processor(self) -> LifeEventProcessor:
        return self._once(
            "processor",
            lambda: life_event_processor(
                self.sessions, self.catalog, self.templates, self.pseudonymizer, self.settings.max_event_bytes
            ),
        )

    def migrated(self) -> Process:
        """This process, its database schema brought up to date (`db upgrade`, `up`)."""
        upgrade(self.engine)
        return self

    def with_schema(self) -> Process:
        """This process, its schema ready for a command that reads or writes tables: the embedded default
        (SQLite) is migrated here; any other database must be migrated by its operator, and SchemaNotReady says
        what to run."""
        if self.engine.dialect.name == "sqlite":
            return self.migrated()
        behind = schema_behind(self.engine)
        if behind:
            raise SchemaNotReady(
                f"the database schema is not up to date ({behind}): run `beforeservice db upgrade` first"
            )
        return self

    def close(self) -> None:
        """Dispose of the engine's pool and close the FCM sender, if they were built."""
        with self._lock:
            engine = self._built.pop("engine", None)
            if isinstance(engine, Engine):
                engine.dispose()
            self._built.pop("sessions", None)
            self._built.pop("processor", None)
            sender = self._built.pop("push_sender", None)
            close = getattr(sender, "close", None)
            if close is not None:
                close()


def command_process(settings: Settings) -> Process:
    """The process of a command that needs the schema: ready (the embedded default migrated), or exit 1 saying
    what to run."""
    process = Process(settings)
    try:
        return process.with_schema()
    except SchemaNotReady as exc:
        process.close()
        print(f"beforeservice: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from exc


def schema_behind(engine: Engine) -> str | None:
    """Why the schema is not at this code's migration heads (None when it is)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    wanted = set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    if current == wanted:
        return None
    return "no migrations applied" if not current else f"at {', '.join(sorted(current))}"


def sessions(settings: Settings) -> sessionmaker[Session]:
    """Sessions on a new engine of their own (a one-shot command, a test); a process keeps one `Process`."""
    return Process(settings).sessions


def pseudonymizer(settings: Settings) -> Pseudonymizer:
    return Pseudonymizer(settings.pseudonym_key.encode())


def processor(settings: Settings) -> LifeEventProcessor:
    return Process(settings).processor


def push_sender(settings: Settings) -> PushSender | None:
    """FCM when credentials are configured; otherwise None: notifications stay in the in-app inbox."""
    if not settings.firebase_credentials:
        return None
    from notifiers.fcm.transport import CurlFcmPushSender  # the one production transport (docs/benchmarks.md)

    return CurlFcmPushSender(
        credentials_file=settings.firebase_credentials,
        project_id=None,
        endpoint=settings.fcm_endpoint,
        app_name="beforeservice",
    )


# Where the batch's and re-evaluation's ports meet their adapters (entitlements/ports.py): the SQL unit of work,
# the notifiers' outbox and the agencies' loop-closing check.
def life_event_processor(
    sessions: sessionmaker[Session],
    catalog: Catalog | Callable[[], Catalog],
    templates: NotificationTemplates,
    pseudonymizer: Pseudonymizer,
    max_event_bytes: int = MAX_EVENT_BYTES,
) -> LifeEventProcessor:
    return LifeEventProcessor(
        partial(SqlUnitOfWork, sessions),
        NotificationOutbox(templates),
        AgencyLoopClosing(),
        catalog,
        pseudonymizer,
        max_event_bytes,
    )


def reevaluator(sessions: sessionmaker[Session], templates: NotificationTemplates | None = None) -> Reevaluator:
    return Reevaluator(partial(SqlUnitOfWork, sessions), NotificationOutbox(templates or shared_templates()))
