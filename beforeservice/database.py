"""Engine creation and schema migrations (Alembic), for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from beforeservice.settings import Settings
from entitlements.persistence.sealed_columns import install_keyring, installed_keyring
from entitlements.persistence.sealing import DEV_DATA_KEYS, Keyring

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def configure_keyring(settings: Settings) -> Keyring:
    """Install the keyring that seals personal data at rest (DATA_KEYS; docs/privacy.md) for this process."""
    if settings.data_keys.strip():
        keyring = Keyring.parse(settings.data_keys)
    else:
        logging.getLogger(__name__).warning(
            "DATA_KEYS is not set: personal data is sealed with the dev-only key; set DATA_KEYS in production "
            "(beforeservice keys generate)"
        )
        keyring = Keyring.parse(DEV_DATA_KEYS)
    install_keyring(keyring)
    return keyring


def make_engine(url: str) -> Engine:
    if installed_keyring() is None:  # sealed columns need one; an explicit configure_keyring() call wins
        configure_keyring(Settings())  # not get_settings(): its cache would pin the environment of this moment
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # WAL lets the API read while the worker writes; foreign keys are off by default in SQLite.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the latest revision (idempotent)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")  # feature branches of migrations may coexist
