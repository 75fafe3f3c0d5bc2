"""A database URL with percent-encoding (the benchmark's search_path option) reaches Alembic unchanged."""

from __future__ import annotations

from sqlalchemy import create_engine

from beforeservice.database import alembic_config


def test_a_percent_encoded_url_survives_alembics_config_parser() -> None:
    url = "postgresql+psycopg://user:p%40ss@127.0.0.1:5432/db?options=-csearch_path%3Dbench_engine"
    engine = create_engine(url)  # no connection is made
    assert alembic_config(engine).get_main_option("sqlalchemy.url") == engine.url.render_as_string(hide_password=False)
