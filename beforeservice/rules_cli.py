"""`beforeservice rules check|test|coverage`: policy staff lint the catalog, run its YAML cases, see its gaps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from entitlements import CATALOG_DIR
from rules_engine.casebook import read_cases, run_case
from rules_engine.catalog import CatalogError
from rules_engine.loader import load_catalog

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
        own = [b.id for b in benefits if b.table is None]
        tables: dict[str, int] = {}
        for b in benefits:
            if b.table is not None:
                tables[b.table] = tables.get(b.table, 0) + 1
        rows = [f"{n} from the {t} table" for t, n in sorted(tables.items())]
        typer.echo(f"  {trigger}: {', '.join(own + rows)}")
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


@rules_app.command("coverage")
def coverage(
    table: Annotated[str, typer.Option(help="the municipal table")] = "local_birth_grant",
    cases: Annotated[Path, typer.Option(help="directory of YAML cases")] = DEFAULT_CASES,
    catalog: Annotated[Path, typer.Option(help="catalog directory")] = CATALOG_DIR,
    on: Annotated[str | None, typer.Option(help="the 시군구 list of this date (YYYY-MM-DD); default today")] = None,
) -> None:
    """Per 시도: 시군구, covered (a grant or a recorded absence), confirmed, pending, missing, tested."""
    from datetime import date

    from rules_engine.grant_tables import coverage as table_coverage

    try:
        load_catalog(catalog)  # the tables must load as the engine loads them
    except CatalogError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    tested = {case.benefit for case in read_cases(cases)}
    when = date.fromisoformat(on) if on else date.today()
    rows = table_coverage(catalog, table, tested, when)
    typer.echo(f"{table} on {when}: 시도 | 시군구 covered confirmed pending missing tested | the 시도's own programme")
    for r in rows:
        typer.echo(
            f"  {r.sido} {r.name:<8} | {r.municipalities:>3} {r.covered:>7} {r.confirmed:>9} {r.pending:>7} "
            f"{r.missing:>7} {r.tested:>6} | {r.own_programme}"
        )
    total = [
        sum(getattr(r, f) for r in rows)
        for f in ("municipalities", "covered", "confirmed", "pending", "missing", "tested")
    ]
    typer.echo(f"  total       | {total[0]:>3} {total[1]:>7} {total[2]:>9} {total[3]:>7} {total[4]:>7} {total[5]:>6} |")
    typer.echo(
        "  pending and missing 시군구 get the information offer local_birth_grant_information_<code>; "
        "a code not in municipalities.yaml gets local_birth_grant_information_unlisted"
    )
    typer.echo("  families who got one: GET /v1/review/cases?status=coverage_gap (console queue: same status)")


@rules_app.command("reevaluate")
def reevaluate(
    benefit: str,
    on: Annotated[str | None, typer.Option(help="apply the law of this date (YYYY-MM-DD); default today")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="shadow mode: report, write nothing")] = False,
) -> None:
    """Re-decide every open offer of BENEFIT on the current catalog: corrections and retractions."""
    from datetime import date

    from beforeservice.bootstrap import command_process, reevaluator
    from beforeservice.settings import get_settings

    when = date.fromisoformat(on) if on else date.today()
    sessions = command_process(get_settings()).sessions
    report = reevaluator(sessions).reevaluate(load_catalog(CATALOG_DIR), benefit, when, dry_run)
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
    from beforeservice.bootstrap import pseudonymizer
    from beforeservice.settings import get_settings
    from beforeservice.startup import PSEUDONYM_KEY, start
    from entitlements.replay import shadow_replay
    from events.history import read_history

    settings = start(get_settings(), [PSEUDONYM_KEY], umask=False)
    history = read_history(settings.bootstrap_servers, pseudonymizer(settings))
    report = shadow_replay(history, load_catalog(CATALOG_DIR), load_catalog(candidate))
    typer.echo(f"{report.events} events replayed ({report.refused} refused), nothing written or sent")
    for benefit, (now, then) in report.differences().items():
        typer.echo(f"  {benefit}: {now} offers now, {then} with the candidate ({then - now:+d})")
    if not report.differences():
        typer.echo("  no difference in offers")


@rules_app.command("evaluate")
def evaluate(
    situation_file: Annotated[Path, typer.Argument(metavar="SITUATION.yaml", help="a situation (YAML or JSON)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the evaluation as JSON (as the API answers)")] = False,
    catalog: Annotated[Path, typer.Option(help="catalog directory")] = CATALOG_DIR,
) -> None:
    """What if: every benefit's decision for SITUATION.yaml, by the worker's own rules and handlers; nothing stored.

    The format is docs/rules-format.md ("What if"); stored people need the API (POST /v1/evaluations)."""
    from entitlements.situations import MAX_SITUATION_CHARS, UnreadableSituation, evaluate, read_situation

    try:
        situation = read_situation(situation_file.read_text(encoding="utf-8")[: MAX_SITUATION_CHARS + 1])
    except (OSError, UnicodeDecodeError) as error:
        typer.echo(f"error: cannot read {situation_file}: {error}", err=True)
        raise typer.Exit(2) from error
    except UnreadableSituation as unreadable:
        for problem in unreadable.problems:
            typer.echo(f"error: {problem.field}: {problem.message}", err=True)
        raise typer.Exit(2) from unreadable
    if situation.stored_people:
        typer.echo("error: stored_people: stored profiles are read through the API (POST /v1/evaluations)", err=True)
        raise typer.Exit(2)
    result = evaluate(situation, load_catalog(catalog))
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    typer.echo(decisions_table(result))


_ELIGIBILITY = {"eligible": "eligible", "not_eligible": "not eligible", "undetermined": "can't tell yet"}


def decisions_table(result: Any) -> str:
    """The decisions as a plain-text table, then each one's reasons (ko, en) and missing facts."""
    rows = [("benefit", "for", "decision", "amount", "deadlines", "paid from", "event")]
    for d in result.decisions:
        amount = "-" if d.amount_krw is None else f"{d.amount_krw:,} {d.amount_unit}"
        deadlines = ", ".join(f"{x.kind} {x.date}" for x in d.deadlines) or "-"
        event = "re-check" if d.event is None else f"#{d.event + 1}"
        rows.append(
            (
                d.benefit_id,
                d.beneficiary_id,
                _ELIGIBILITY[d.eligibility],
                amount,
                deadlines,
                d.payment_starts or "-",
                event,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"What if, on {result.date} (format {result.version}): {len(result.decisions)} decisions", ""]
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    lines.append("")
    for d in result.decisions:
        lines.append(f"{d.benefit_id} ({d.beneficiary_id}): {_ELIGIBILITY[d.eligibility]}")
        lines.append(f"  ko: {d.reason_ko}")
        lines.append(f"  en: {d.reason_en}")
        if d.missing:
            lines.append(f"  missing: {', '.join(d.missing)}")
    for c in result.changes:
        lines.append(f"changed: {c.benefit_id} ({c.beneficiary_id}) {c.status}: {c.why}")
    return "\n".join(lines)
