"""`beforeservice keys`: new data keys, and key rotation of the personal data sealed at rest (docs/privacy.md).

Rotation: put a new key first in DATA_KEYS (it becomes the active one; keep the old ones after it), restart the
engine's processes, run `beforeservice keys rotate`: every sealed value not under the active key is opened and
sealed again under it, a page at a time, one transaction per page. Interrupted, it is simply run again (values
already under the active key are skipped in SQL). When `beforeservice keys status` shows nothing left under an old
key, that key can leave DATA_KEYS.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from sqlalchemy import Engine, Text, column, func, select, table

from entitlements.persistence.sealed_columns import SealedTable, reseal_page, reseal_with, sealed_tables
from entitlements.persistence.sealing import Keyring, new_key_entry

keys_app = typer.Typer(help="Keys sealing personal data at rest (DATA_KEYS): generate, rotate.", no_args_is_help=True)


def sealed_specs() -> list[SealedTable]:
    """Every sealed column of the schema (entitlements, notifications, the console's reviews)."""
    import notifiers.tables  # noqa: F401 - registers the notification tables
    from beforeservice.console.tables import ConsoleBase
    from entitlements.persistence.tables import Base

    return sealed_tables(Base.metadata, ConsoleBase.metadata)


def rotate(
    engine: Engine,
    keyring: Keyring,
    batch: int = 1000,
    on_page: Callable[[str, dict[str, int]], None] | None = None,
) -> dict[str, int]:
    """Re-seal under the active key every value sealed under another key (or still in clear), page by page (one
    transaction each). Returns the number of values re-sealed per column (``table.column``)."""
    done = reseal_with(keyring)
    header = keyring.header_of(keyring.active)
    totals: dict[str, int] = {}
    for spec in sealed_specs():
        for name in spec.columns:
            totals[f"{spec.name}.{name}"] = 0
        after: Any = None
        while True:
            with engine.begin() as connection:
                after, counts = reseal_page(connection, spec, done, header, after, batch)
            for name, n in counts.items():
                totals[f"{spec.name}.{name}"] += n
            if after is None:
                break
            if on_page is not None:
                on_page(spec.name, counts)
    return totals


def status(engine: Engine, keyring: Keyring) -> dict[str, tuple[int, int]]:
    """Per sealed column: (values, values not under the active key)."""
    header = keyring.header_of(keyring.active)
    found: dict[str, tuple[int, int]] = {}
    with engine.connect() as connection:
        for spec in sealed_specs():
            for name in spec.columns:
                raw = table(spec.name, column(name, Text()))
                value = raw.c[name]
                stale = func.count().filter(~value.startswith(header, autoescape=True))
                query = select(func.count(), stale).select_from(raw).where(value.is_not(None))
                total, behind = connection.execute(query).one()
                found[f"{spec.name}.{name}"] = (total, behind)
    return found


def _engine_and_keyring() -> tuple[Engine, Keyring]:
    from beforeservice.bootstrap import Process
    from beforeservice.settings import get_settings
    from beforeservice.startup import DATA_KEYS, start

    settings = start(get_settings(), [DATA_KEYS], umask=False)  # never re-seal under the public dev key
    process = Process(settings)
    return process.engine, process.keyring


@keys_app.command("generate")
def generate_command(
    key_id: Annotated[str | None, typer.Option("--id", help="key id (default: k<today>)")] = None,
) -> None:
    """Print a new DATA_KEYS entry (256 random bits); put it first in DATA_KEYS to make it the active key."""
    entry = new_key_entry(key_id or f"k{datetime.now(UTC):%Y%m%d}")
    typer.echo(entry)
    hint = "put it FIRST in DATA_KEYS (keep the old keys after it), restart, then: beforeservice keys rotate"
    typer.echo(hint, err=True)


@keys_app.command("rotate")
def rotate_command(
    batch: Annotated[int, typer.Option(help="rows per page (one transaction per page)", min=1)] = 1000,
) -> None:
    """Re-seal every value not under the active key (the first of DATA_KEYS); safe to interrupt and run again."""
    engine, keyring = _engine_and_keyring()
    others = ", ".join(k for k in keyring.kids if k != keyring.active) or "none"
    typer.echo(f"active key: {keyring.active}; other keys: {others}")

    def progress(table_name: str, counts: dict[str, int]) -> None:
        typer.echo(f"  {table_name}: page done, {sum(counts.values())} values re-sealed", err=True)

    totals = rotate(engine, keyring, batch, progress)
    for name, n in totals.items():
        typer.echo(f"{name}: {n} re-sealed")
    left = {name: behind for name, (_, behind) in status(engine, keyring).items() if behind}
    engine.dispose()
    if left:  # written meanwhile by a process that still had an old key active
        typer.echo(f"still not under {keyring.active}: {left}; restart every process with the new DATA_KEYS, rerun")
        raise typer.Exit(1)
    typer.echo(f"every sealed value is under {keyring.active}: the other keys can leave DATA_KEYS")


@keys_app.command("status")
def status_command() -> None:
    """Per sealed column: how many values, and how many are not yet under the active key."""
    engine, keyring = _engine_and_keyring()
    for name, (total, behind) in status(engine, keyring).items():
        typer.echo(f"{name}: {total} values, {behind} not under {keyring.active}")
    engine.dispose()
