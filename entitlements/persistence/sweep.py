"""Population sweep: who in the profile store is entitled to a benefit, decided in SQL in one pass.

Used when a benefit is added or its law changes: shadow mode (`--dry-run`) reports counts by municipality and
a sample and writes nothing; a real run inserts the new entitlement rows with INSERT ... SELECT (matched or
pending_review, deterministic ids, skipping beneficiaries who already have an offer of that benefit). Nobody
is decided in Python one by one, and nothing is sent from here; only the new rows' trace and reasons pass through
Python afterwards, a page at a time, to be sealed (docs/privacy.md).

This module holds the concrete mapping from rule facts to the profile tables (entitlements/persistence/tables.py), the
same facts entitlements.profiles.profile_facts gives the Python engine; rules_engine.sql does the rest.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Date,
    FromClause,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from entitlements import ids
from entitlements.households import HOUSEHOLD_FACTS, PERSON_FACTS
from entitlements.ids import BACKFILL_SOURCE
from entitlements.persistence.sealed_columns import current_keyring, reseal_all, reseal_with, sealed_tables
from entitlements.persistence.tables import CitizenRow, EntitlementRow, HouseholdRow
from rules_engine.catalog import Benefit
from rules_engine.eligibility import Eligibility
from rules_engine.evaluation import ConditionOutcome, Decision
from rules_engine.explanation import reason
from rules_engine.facts import to_ask_for
from rules_engine.sql import BenefitSql, benefit_sql, date_value, facts_read, floor_div, whole_months

CHILD_AGE_LIMIT = 19  # as entitlements.profiles: a child under 19 counts in household.children_count
SAMPLE_SIZE = 10
_SQLITE_ID_FUNCTION = "beforeservice_stable_id"
# The profile store's tables (the ORM declares them; here they are used as Core tables).
CITIZENS = typing.cast(Table, CitizenRow.__table__)
HOUSEHOLDS = typing.cast(Table, HouseholdRow.__table__)
ENTITLEMENTS = typing.cast(Table, EntitlementRow.__table__)


# --- the mapping: rule facts -> profile columns --------------------------------------------------------------


@dataclass(frozen=True)
class ProfileFacts:
    """The fact columns for one subject (a citizen) in their household, and the FROM clause they come from."""

    columns: dict[str, ColumnElement[Any]]
    source: FromClause
    subject: FromClause
    household: FromClause


def profile_facts(on: date, citizens: Table, households: Table, needs_counts: bool) -> ProfileFacts:
    subject = citizens.alias("subject")
    household = households.alias("household")
    source: FromClause = subject.join(household, household.c.id == subject.c.household_id)
    s, h = subject.c, household.c
    resident = case((h.resident_since > date_value(on), null()), else_=whole_months(h.resident_since, on))
    columns: dict[str, ColumnElement[Any]] = {
        "household.municipality_code": h.municipality_code,
        "household.months_resident": resident,  # unknown without a date, or one after the evaluation date
        "person.birth_date": s.birth_date,
        # The registry records "lives with a spouse" on the person; the rules read it as a household fact.
        "household.is_couple": s.is_couple,
        # child.* facts exist only when the subject is a child.
        "child.birth_date": case((s.role == "child", s.birth_date), else_=null()),
        "child.birth_order": case((s.role == "child", s.birth_order), else_=null()),
    }
    columns.update({f"household.{name}": h[name] for name in HOUSEHOLD_FACTS})
    columns.update({f"person.{name}": s[name] for name in PERSON_FACTS if name != "is_couple"})
    if needs_counts:
        counts = _household_counts(citizens, on)
        source = source.join(counts, counts.c.household_id == subject.c.household_id)
        columns["household.members_count"] = counts.c.members_count
        # One child of unknown age makes the count unknown, not smaller.
        columns["household.children_count"] = case(
            (counts.c.children_unknown > 0, null()), else_=counts.c.children_count
        )
    return ProfileFacts(columns, source, subject, household)


def _household_counts(citizens: Table, on: date) -> FromClause:
    member = citizens.alias("member")
    alive = member.c.deceased_on.is_(None)
    child = and_(alive, member.c.role == "child")
    age = floor_div(whole_months(member.c.birth_date, on), literal(12))
    return (
        select(
            member.c.household_id,
            func.sum(case((alive, 1), else_=0)).label("members_count"),
            func.sum(case((and_(child, member.c.birth_date.is_(None)), 1), else_=0)).label("children_unknown"),
            func.sum(case((and_(child, age < CHILD_AGE_LIMIT), 1), else_=0)).label("children_count"),
        )
        .group_by(member.c.household_id)
        .subquery("household_counts")
    )


# --- the sweep ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sweep:
    """The decisions for a benefit on a date: one row per beneficiary, not-eligible ones left out."""

    benefit: Benefit
    on: date
    decisions: FromClause
    sql: BenefitSql
    facts: ProfileFacts


def sweep(benefit: Benefit, on: date, citizens: Table | None = None, households: Table | None = None) -> Sweep:
    """Raises rules_engine.sql.NotTranslatable if the benefit reads a fact the profile store cannot give."""
    citizens = CITIZENS if citizens is None else citizens
    households = HOUSEHOLDS if households is None else households
    read = facts_read(benefit)
    facts = profile_facts(
        on, citizens, households, bool(read & {"household.members_count", "household.children_count"})
    )
    decided = benefit_sql(benefit, facts.columns, on)
    s = facts.subject.c
    filters: list[ColumnElement[Any]] = []
    if any(name.startswith("child.") for name in read):
        filters.append(s.role == "child")  # the subject of a child's benefit is the child
    if "person.deceased_on" not in read:
        filters.append(s.deceased_on.is_(None))  # nobody is offered anything after their death
    if decided.selected is not None:
        filters.append(decided.selected)  # households the engine would not evaluate it for (Catalog.triggered)
    household_level = benefit.recipients == "household"
    beneficiary = s.household_id if household_level else s.id
    deadline: ColumnElement[Any] = cast(null(), Date()) if decided.deadline is None else decided.deadline
    # Three levels, so each expression is computed once per row: the decision (with each condition and the facts
    # the reasons need as columns), then the texts built from those columns, then the filter.
    wanted = sorted(read | (benefit.amount.facts if benefit.amount else frozenset()))
    first: list[Any] = [
        s.id.label("citizen_id"),
        s.household_id.label("household_id"),
        beneficiary.label("beneficiary_id"),
        facts.household.c.municipality_code.label("municipality_code"),
        decided.eligibility.label("eligibility"),
        decided.amount.label("amount_krw"),
        deadline.label("deadline"),
        *[held.label(f"held_{i}") for i, held in enumerate(decided.conditions)],
        *[decided.facts[name].label(f"fact_{i}") for i, name in enumerate(wanted)],
    ]
    if household_level:  # one offer per household: the best-placed member's (eligible before undetermined)
        rank = case((decided.eligibility == Eligibility.ELIGIBLE.value, 0), else_=1)
        first.append(func.row_number().over(partition_by=s.household_id, order_by=(rank, s.id)).label("place"))
    level = select(*first).select_from(facts.source).where(*filters).subquery("decided")
    c = level.c
    row = BenefitSql(
        benefit.id,
        tuple(c[f"held_{i}"] for i in range(len(decided.conditions))),
        {name: c[f"fact_{i}"] for i, name in enumerate(wanted)},
        decided.holds,
        c.eligibility,
        c.amount_krw,
    )
    absent = _absent(benefit, row)
    texts = select(
        c.citizen_id,
        c.household_id,
        c.beneficiary_id,
        c.municipality_code,
        c.eligibility,
        c.amount_krw,
        c.deadline,
        _missing_json(absent, row).label("missing"),
        _trace_json(benefit, row).label("trace"),
        _reason(benefit, row, absent, "ko").label("reason_ko"),
        _reason(benefit, row, absent, "en").label("reason_en"),
    ).where(c.eligibility != Eligibility.NOT_ELIGIBLE.value)
    if household_level:
        texts = texts.where(c.place == 1)
    return Sweep(benefit, on, texts.subquery("decisions"), decided, facts)


def _absent(benefit: Benefit, decided: BenefitSql) -> list[tuple[str, ColumnElement[Any]]]:
    """Per fact (sorted), whether it is one of the missing ones of evaluation.evaluate_benefit: absent, and read
    by a condition that was unknown or by an amount that was."""
    # Keyed by the fact reported (a derived fact's source); a derived fact is NULL exactly when its source is, so
    # any fact read that reports under that name tells whether it is absent.
    why: dict[str, tuple[str, list[ColumnElement[Any]]]] = {}
    for condition, held in zip(benefit.conditions, decided.conditions, strict=True):
        for name in condition.expression.facts:
            why.setdefault(to_ask_for(name), (name, []))[1].append(held.is_(None))
    if benefit.amount is not None:
        for name in benefit.amount.facts:
            why.setdefault(to_ask_for(name), (name, []))[1].append(decided.amount.is_(None))
    undetermined = decided.eligibility == Eligibility.UNDETERMINED.value
    return [
        (asked, and_(undetermined, decided.facts[read].is_(None), or_(*w))) for asked, (read, w) in sorted(why.items())
    ]


def _concat(parts: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    text: ColumnElement[Any] = literal("", String())
    for part in parts:
        text = text + part
    return text


def _missing_json(absent: list[tuple[str, ColumnElement[Any]]], decided: BenefitSql) -> ColumnElement[Any]:
    listed = _concat([case((a, literal(json.dumps(name) + ",", String())), else_="") for name, a in absent])
    return _AsJson("[" + func.rtrim(listed, ",") + "]")


def _trace_json(benefit: Benefit, decided: BenefitSql) -> ColumnElement[Any]:
    """The trace caseworkers read (explanation.trace_record): every condition and whether it held."""
    parts: list[ColumnElement[Any]] = [literal("[", String())]
    for index, (condition, held) in enumerate(zip(benefit.conditions, decided.conditions, strict=True)):
        record = {
            "when": condition.expression.source,
            "holds": "__HOLDS__",
            "reason_ko": condition.reason["ko"],
            "reason_en": condition.reason["en"],
            "reference": condition.reference,
        }
        before, after = json.dumps(record, ensure_ascii=False).split('"__HOLDS__"')
        holds = case((held.is_(None), "null"), (held, "true"), else_="false")
        parts += [literal(("," if index else "") + before, String()), holds, literal(after, String())]
    return _AsJson(_concat([*parts, literal("]", String())]))


def _reason(
    benefit: Benefit, decided: BenefitSql, absent: list[tuple[str, ColumnElement[Any]]], lang: str
) -> ColumnElement[Any]:
    """explanation.reason's text, per row: its wording is taken from reason() itself, split around markers, so
    the two never drift apart."""
    wording = _Wording.of(benefit, lang)
    eligible_text = reason(
        _decision(benefit, Eligibility.ELIGIBLE, (), [(c.reason, True) for c in benefit.conditions]), lang
    )
    unknown = [held.is_(None) for held in decided.conditions]
    because = _concat(
        [
            case((u, literal(wording.separator + c.reason[lang], String())), else_="")
            for u, c in zip(unknown, benefit.conditions, strict=True)
        ]
    )
    because = case(
        (or_(*_or_false(unknown)), func.substr(because, len(wording.separator) + 1)), else_=benefit.summary[lang]
    )
    missing = func.rtrim(
        _concat([case((a, literal(name + wording.missing_separator, String())), else_="") for name, a in absent]),
        wording.missing_separator,
    )
    tail = case((missing == "", wording.tail), else_=wording.tail_with_missing + missing + wording.end)
    undetermined_text = wording.head + because + tail
    return case((decided.eligibility == Eligibility.ELIGIBLE.value, eligible_text), else_=undetermined_text)


def _or_false(conditions: Sequence[ColumnElement[Any]]) -> list[ColumnElement[Any]]:
    return list(conditions) or [literal(False, Boolean())]


_MARK = ("\x01a\x01", "\x01b\x01", "\x01m\x01", "\x01n\x01")


def _decision(
    benefit: Benefit,
    eligibility: Eligibility,
    missing: tuple[str, ...],
    outcomes: list[tuple[dict[str, str], bool | None]],
) -> Decision:
    trace = tuple(ConditionOutcome("", holds, why, "") for why, holds in outcomes)
    return Decision(benefit, date.min, eligibility, None, None, missing, trace)


@dataclass(frozen=True)
class _Wording:
    head: str  # "{name}: "
    separator: str  # between condition reasons
    tail: str  # " — {law} ({verdict})"
    tail_with_missing: str  # the same, then " [{label}: "
    missing_separator: str
    end: str  # "]"

    @classmethod
    def of(cls, benefit: Benefit, lang: str) -> _Wording:
        a, b, m, n = _MARK
        unknown = Eligibility.UNDETERMINED
        two = reason(
            _decision(benefit, unknown, (m, n), [({"ko": a, "en": a}, None), ({"ko": b, "en": b}, None)]), lang
        )
        head, rest = two.split(a)
        separator, rest = rest.split(b)
        tail_with_missing, rest = rest.split(m)
        missing_separator, end = rest.split(n)
        bare = reason(_decision(benefit, unknown, (), [({"ko": a, "en": a}, None)]), lang)
        return cls(head, separator, bare.split(a)[1], tail_with_missing, missing_separator, end)


class _AsJson(FunctionElement[Any]):
    """JSON text as a JSON value: PostgreSQL needs the cast; SQLite stores the text (a cast would mangle it)."""

    type = JSON()
    inherit_cache = True
    name = "as_json"


@compiles(_AsJson)
def _as_json_default(element: _AsJson, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS JSON)"


@compiles(_AsJson, "sqlite")
def _as_json_sqlite(element: _AsJson, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


class _StableId(FunctionElement[str]):
    """A deterministic UUID-shaped id from text: the MD5 of it, on PostgreSQL natively, on SQLite by a function
    registered on the connection; both give the same id for the same text."""

    type = String()
    inherit_cache = True
    name = "stable_id"


@compiles(_StableId)
def _stable_id_default(element: _StableId, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(CAST(md5({compiler.process(element.clauses, **kw)}) AS UUID) AS VARCHAR)"


@compiles(_StableId, "sqlite")
def _stable_id_sqlite(element: _StableId, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{_SQLITE_ID_FUNCTION}({compiler.process(element.clauses, **kw)})"


def _register_sqlite_functions(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        raw = connection.connection.driver_connection
        raw.create_function(_SQLITE_ID_FUNCTION, 1, ids.md5_id, deterministic=True)  # type: ignore[union-attr]


# --- reports and the real run --------------------------------------------------------------------------------


@dataclass
class Report:
    benefit_id: str
    on: date
    by_municipality: dict[str | None, dict[str, int]] = field(default_factory=dict)  # code -> eligibility -> n
    sample: list[dict[str, Any]] = field(default_factory=list)
    inserted: int = 0

    def total_of(self, eligibility: str) -> int:
        return sum(counts.get(eligibility, 0) for counts in self.by_municipality.values())


def shadow(connection: Connection, benefit: Benefit, on: date) -> Report:
    """Counts by municipality (eligible / undetermined) and a deterministic sample; writes nothing."""
    swept = sweep(benefit, on)
    d = swept.decisions.c
    report = Report(benefit.id, on)
    counts = select(d.municipality_code, d.eligibility, func.count()).group_by(d.municipality_code, d.eligibility)
    for code, eligibility, n in connection.execute(counts):
        report.by_municipality.setdefault(code, {})[eligibility] = n
    sample: Select[Any] = (
        select(d.citizen_id, d.household_id, d.municipality_code, d.eligibility, d.amount_krw, d.deadline, d.missing)
        .order_by(d.citizen_id)
        .limit(SAMPLE_SIZE)
    )
    report.sample = [dict(row._mapping) for row in connection.execute(sample)]
    return report


def backfill(connection: Connection, benefit: Benefit, on: date, dry_run: bool = False) -> Report:
    """Shadow report, then (unless dry_run) the new entitlement rows, in the caller's transaction."""
    report = shadow(connection, benefit, on)
    if dry_run:
        return report
    _register_sqlite_functions(connection)
    swept = sweep(benefit, on)
    d = swept.decisions.c
    event_id = ids.backfill_event_id(benefit.id, on.isoformat())
    now = datetime.now(UTC)
    eligible = d.eligibility == Eligibility.ELIGIBLE.value
    existing = select(EntitlementRow.id).where(
        EntitlementRow.benefit_id == benefit.id, EntitlementRow.beneficiary_id == d.beneficiary_id
    )
    rows = select(
        _StableId(literal(ids.backfill_key_prefix(event_id)) + d.beneficiary_id),  # = ids.backfill_offer_id
        literal(benefit.id),
        d.beneficiary_id,
        d.household_id,
        case((eligible, "matched"), else_="pending_review"),
        d.eligibility,
        d.amount_krw,
        literal(benefit.payment),
        d.deadline,
        # The kind of the one date the sweep computes (the day the offer ends); other deadline kinds (retroactive
        # window, use-by) are not swept: rows written here get them on their next re-evaluation.
        literal(benefit.deadline.kind.value) if benefit.deadline else cast(null(), String()),
        d.missing,
        d.trace,
        d.reason_ko,
        d.reason_en,
        date_value(on),
        literal(BACKFILL_SOURCE),
        literal(event_id),
        literal(now),
        literal(now),
    ).where(~existing.exists())
    columns = [
        "id",
        "benefit_id",
        "beneficiary_id",
        "household_id",
        "status",
        "eligibility",
        "amount_krw",
        "payment",
        "deadline",
        "deadline_kind",
        "missing",
        "trace",
        "reason_ko",
        "reason_en",
        "evaluated_on",
        "event_source",
        "event_id",
        "created_at",
        "updated_at",
    ]
    ours = select(func.count()).where(
        EntitlementRow.event_source == BACKFILL_SOURCE, EntitlementRow.event_id == event_id
    )
    before = connection.execute(ours).scalar_one()
    result = connection.execute(insert(ENTITLEMENTS).from_select(columns, rows))
    # pysqlite does not report a row count for INSERT ... SELECT; the unique (source, event) index counts fast.
    report.inserted = result.rowcount if result.rowcount >= 0 else connection.execute(ours).scalar_one() - before
    # The trace and reasons were computed in SQL, so written in clear: seal them now, in this transaction (a page
    # at a time in Python; AES-GCM has no SQL counterpart on SQLite). docs/privacy.md
    keyring = current_keyring()
    sealed = [t for t in sealed_tables(ENTITLEMENTS.metadata) if t.name == ENTITLEMENTS.name]
    match = {"event_source": BACKFILL_SOURCE, "event_id": event_id}
    reseal_all(connection, sealed, reseal_with(keyring), keyring.header_of(keyring.active), match=match)
    return report


def count_synthetic(connection: Connection, prefix: str) -> int:
    return connection.execute(select(func.count()).where(CitizenRow.id.startswith(prefix))).scalar_one()


__all__ = ["BACKFILL_SOURCE", "Report", "backfill", "profile_facts", "shadow", "sweep"]
