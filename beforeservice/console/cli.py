"""`beforeservice agencies|caseworkers|audit`: agency keys, console accounts; verify and anchor the audit log."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from beforeservice.settings import get_settings

agencies_app = typer.Typer(help="Agency API keys for POST /v1/events.", no_args_is_help=True)
caseworkers_app = typer.Typer(help="Caseworker console accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of caseworker access.", no_args_is_help=True)


def _sessions() -> sessionmaker[Session]:
    from beforeservice.bootstrap import command_process

    return command_process(get_settings()).sessions


@agencies_app.command("add")
def agencies_add(
    agency: Annotated[str, typer.Argument(help="agency id, e.g. mois")],
    event_type: Annotated[list[str], typer.Option("--type", help="event type or glob, e.g. kr.go.mois.*")],
    source: Annotated[list[str], typer.Option("--source", help="allowed source prefix, e.g. /agencies/mois/")],
    rate_per_minute: Annotated[int, typer.Option(help="events a minute before 429")] = 600,
) -> None:
    """Create a key; it is printed once (only its digest is stored)."""
    from beforeservice.console.agencies import add_agency_key

    try:
        with _sessions().begin() as session:
            row, key = add_agency_key(session, agency, event_type, source, rate_per_minute)
            key_id = row.key_id
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"key id   {key_id}", err=True)
    typer.echo("api key  (shown once; send as X-API-Key):", err=True)
    typer.echo(key)


@agencies_app.command("list")
def agencies_list() -> None:
    """Every key with its scope (never the key itself)."""
    from beforeservice.console.agencies import list_agency_keys

    with _sessions()() as session:
        for row in list_agency_keys(session):
            state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            typer.echo(
                f"{row.key_id}  {row.agency:<10} {state:<18} {row.rate_per_minute}/min  "
                f"types={','.join(row.event_types)}  sources={','.join(row.source_prefixes)}"
            )


@agencies_app.command("revoke")
def agencies_revoke(key_id: str) -> None:
    """Revoke a key at once (the agency gets 401 from then on)."""
    from beforeservice.console.agencies import revoke_agency_key

    with _sessions().begin() as session:
        revoked = revoke_agency_key(session, key_id)
    if not revoked:
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


@caseworkers_app.command("add")
def caseworkers_add(
    username: str,
    agency: Annotated[list[str], typer.Option("--agency", help="catalog agency id (repeat), or *")],
    municipality: Annotated[list[str], typer.Option("--municipality", help="시군구 code prefix (repeat), or *")],
    role: Annotated[str, typer.Option(help="caseworker | supervisor | auditor")] = "caseworker",
    display_name: Annotated[str | None, typer.Option(help="name shown in the console")] = None,
    password_stdin: Annotated[bool, typer.Option(help="read the password from standard input")] = False,
) -> None:
    """Create a console account (the password is prompted for, or read from stdin)."""
    from beforeservice.console.accounts import add_caseworker

    password = _new_password(password_stdin)
    try:
        with _sessions().begin() as session:
            add_caseworker(
                session,
                username,
                password,
                role=role,
                agencies=agency,
                municipalities=municipality,
                display_name=display_name,
            )
    except (ValueError, IntegrityError) as exc:
        typer.echo(f"cannot add {username}: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"added {role} {username} (agencies {','.join(agency)}; municipalities {','.join(municipality)})")


def _new_password(from_stdin: bool) -> str:
    """From standard input (--password-stdin, or whenever it is not a terminal: CI, pipes), else prompted twice."""
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


def _account_change(username: str, action: str, change: Callable[[Session], bool]) -> None:
    """Apply `change` to the account and put it on the audit log, in one transaction; exit 1 if there is none."""
    from beforeservice.console.audit import AuditEntry, AuditTransaction, append

    with AuditTransaction(_sessions()()) as session:
        found = change(session)
        if found:
            append(session, AuditEntry("cli", "operator", None, action, "write", object_id=username))
    if not found:
        typer.echo(f"no account {username}", err=True)
        raise typer.Exit(1)


@caseworkers_app.command("deactivate")
def caseworkers_deactivate(username: str) -> None:
    """Deactivate an account: its tokens and console sessions stop working at once."""
    from beforeservice.console.accounts import set_active

    _account_change(username, "account.deactivate", lambda session: set_active(session, username, False))
    typer.echo(f"deactivated {username}; its tokens and console sessions are revoked")


@caseworkers_app.command("reactivate")
def caseworkers_reactivate(username: str) -> None:
    """Reactivate an account (it logs in afresh: sessions from before stay revoked)."""
    from beforeservice.console.accounts import set_active

    _account_change(username, "account.reactivate", lambda session: set_active(session, username, True))
    typer.echo(f"reactivated {username}")


@caseworkers_app.command("reset-password")
def caseworkers_reset_password(
    username: str,
    password_stdin: Annotated[bool, typer.Option(help="read the password from standard input")] = False,
) -> None:
    """Set a new password (prompted for, or read from stdin); the account's tokens and sessions are revoked."""
    from beforeservice.console.accounts import reset_password

    password = _new_password(password_stdin)
    try:
        _account_change(username, "account.password_reset", lambda session: reset_password(session, username, password))
    except ValueError as exc:
        typer.echo(f"cannot reset the password of {username}: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"new password set for {username}; its tokens and console sessions are revoked")


@caseworkers_app.command("list")
def caseworkers_list() -> None:
    """Every account with its role, scopes and state (never a password hash)."""
    from sqlalchemy import select

    from beforeservice.console.tables import CaseworkerRow

    with _sessions()() as session:
        for row in session.scalars(select(CaseworkerRow).order_by(CaseworkerRow.username)):
            typer.echo(
                f"{row.username:<24} {row.role:<11} {'active' if row.active else 'inactive':<9} "
                f"agencies={','.join(row.agencies)}  municipalities={','.join(row.municipalities)}"
            )


@audit_app.command("verify")
def audit_verify(
    anchors: Annotated[
        Path | None,
        typer.Option(help="anchor file to check against (e.g. the copy on WORM storage); default AUDIT_ANCHOR_FILE"),
    ] = None,
) -> None:
    """Check the hash chain of the whole audit log against its signed anchors; exit 1 if any entry was changed,
    removed or inserted, the tail cut off, the chain recomputed, or an anchor is missing or forged."""
    from beforeservice.console.audit import verify_anchored
    from beforeservice.console.audit_anchors import AnchorFile, AnchorVerifier, anchor_file

    settings = get_settings()
    store = AnchorFile(anchors) if anchors else anchor_file(settings)
    with _sessions()() as session:
        result = verify_anchored(session, store.read(), AnchorVerifier.from_settings(settings))
    for b in result.breaks:
        typer.echo(f"entry {b.entry_id}: {b.problem}", err=True)
    for p in result.anchor_problems:
        typer.echo(p, err=True)
    if not result.intact:
        problems = len(result.breaks) + len(result.anchor_problems)
        typer.echo(f"audit log TAMPERED: {problems} problem(s) in {result.checked} entries", err=True)
        raise typer.Exit(1)
    latest = result.latest
    anchored = f"; anchored up to entry {latest.seq} ({latest.at}) in {store.path}" if latest else ""
    typer.echo(f"audit log intact: {result.checked} entries, hash chain verified{anchored}")
    if result.unanchored:
        typer.echo(f"{result.unanchored} entries after the latest anchor are protected by the chain alone")


@audit_app.command("anchor")
def audit_anchor() -> None:
    """Sign the audit log's head now and append it to the anchor store (run it from cron, or before a backup)."""
    from sqlalchemy import select

    from beforeservice.console.audit_anchors import anchoring
    from beforeservice.console.tables import AuditRow

    with _sessions()() as session:
        head = session.execute(select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1)).first()
    if head is None:
        typer.echo("the audit log is empty: nothing to anchor")
        return
    anchors = anchoring(get_settings())
    anchor = anchors.anchor(head[0], head[1])
    typer.echo(f"anchored entry {anchor.seq} ({anchor.hash[:16]}…) in {anchors.store.path}")


@audit_app.command("keygen")
def audit_keygen() -> None:
    """Print a new AUDIT_ANCHOR_KEY (keep it secret, like TOKEN_SECRET) and the public key verifiers need."""
    from beforeservice.console.audit_anchors import AnchorSigner, encode_public_key, new_signing_key

    private = new_signing_key()
    public = encode_public_key(AnchorSigner.from_setting(private).public)
    typer.echo(f"AUDIT_ANCHOR_KEY={private}")
    typer.echo(f"AUDIT_ANCHOR_PUBLIC_KEYS={public}")
