"""`beforeservice rules check|test`: policy staff lint the catalog and run its YAML cases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from entitlements import CATALOG_DIR
from rules_engine.casebook import read_cases, run_case
from rules_engine.catalog import CatalogError, load_catalog

rules_app = typer.Typer(help="The benefit catalog: lint, test, backfill.", no_args_is_help=True)
DEFAULT_CASES = Path("tests/rules")


@rules_app.command("check")
def check(catalog: Annotated[Path, typer.Option(help="catalog directory")] = CATALOG_DIR) -> None:
    """Load the whole catalog as the engine would; report the first error with its file and line."""
    try:
        loaded = load_catalog(catalog)
    except CatalogError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    agencies = {b.agency.id for b in loaded.benefits.values()}
    unconfirmed = sum(1 for b in loaded.benefits.values() if b.unconfirmed)
    typer.echo(f"ok: {len(loaded.benefits)} benefits from {len(agencies)} agencies, {len(loaded.conflicts)} conflicts")
    for trigger, benefits in sorted(loaded.by_trigger.items()):
        typer.echo(f"  {trigger}: {', '.join(b.id for b in benefits)}")
    typer.echo(f"  {unconfirmed} benefits list facts not confirmed from an official source (see `unconfirmed:`)")


@rules_app.command("test")
def test(
    cases: Annotated[Path, typer.Option(help="directory of YAML cases")] = DEFAULT_CASES,
    catalog: Annotated[Path, typer.Option(help="catalog directory")] = CATALOG_DIR,
) -> None:
    """Run the OpenFisca-style YAML cases; exit 1 if any fails."""
    loaded = load_catalog(catalog)
    results = [run_case(loaded, case) for case in read_cases(cases)]
    for result in results:
        if not result.passed:
            typer.echo(f"FAIL {result.case.file}: {result.case.name}: {'; '.join(result.failures)}")
    failed = sum(1 for r in results if not r.passed)
    typer.echo(f"{len(results) - failed} passed, {failed} failed")
    if failed or not results:
        raise typer.Exit(1)


@rules_app.command("reevaluate")
def reevaluate(
    benefit: str,
    on: Annotated[str | None, typer.Option(help="apply the law of this date (YYYY-MM-DD); default today")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="shadow mode: report, write nothing")] = False,
) -> None:
    """Re-decide every open offer of BENEFIT on the current catalog: corrections and retractions."""
    from datetime import date

    from beforeservice.reevaluation import reevaluate_benefit
    from beforeservice.settings import get_settings
    from beforeservice.wiring import sessions

    when = date.fromisoformat(on) if on else date.today()
    report = reevaluate_benefit(sessions(get_settings()), load_catalog(CATALOG_DIR), benefit, when, dry_run)
    mode = "shadow mode, nothing written" if dry_run else "written"
    typer.echo(
        f"{benefit} on {when}: {report.examined} open offers examined, {report.unchanged} unchanged, "
        f"{report.corrected} corrected, {report.retracted} retracted, {report.notified} notices queued ({mode})"
    )
    for code, count in report.by_municipality.most_common(20):
        typer.echo(f"  {code}: {count} changed")


@rules_app.command("replay")
def replay(candidate: Annotated[Path, typer.Option(help="the candidate catalog directory")]) -> None:
    """Shadow mode: replay the whole event history through the catalog in force and CANDIDATE; send nothing."""
    from beforeservice.replay import read_history, shadow_replay
    from beforeservice.settings import get_settings
    from beforeservice.startup import PSEUDONYM_KEY, start
    from beforeservice.wiring import pseudonymizer

    settings = start(get_settings(), [PSEUDONYM_KEY], umask=False)
    history = read_history(settings.bootstrap_servers, pseudonymizer(settings))
    report = shadow_replay(history, load_catalog(CATALOG_DIR), load_catalog(candidate))
    typer.echo(f"{report.events} events replayed ({report.refused} refused), nothing written or sent")
    for benefit, (now, then) in report.differences().items():
        typer.echo(f"  {benefit}: {now} offers now, {then} with the candidate ({then - now:+d})")
    if not report.differences():
        typer.echo("  no difference in offers")
