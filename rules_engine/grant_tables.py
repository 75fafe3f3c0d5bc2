"""Benefits declared once and parameterised per municipality by a data table (OpenFisca-style, as data).

A *table declaration* is a catalog file with a `table:` key (e.g. entitlements/catalog/birth/local_birth_grant.yaml):
it declares the benefit once — texts, trigger, how to apply, the reasons its conditions give — and names a
directory of tables, one file per 시도 (entitlements/catalog/tables/<table>/<code>_<name>.yaml), whose rows give each
municipality's parameters: ordinance, amounts by birth order dated by the birth date, residence condition,
application window, official source, and what could not be confirmed. Each row becomes an ordinary benefit, read
and linted by the catalog's own reader, so the engine, the reference interpreter and the SQL translation decide
it alike. A municipality of the code list (entitlements/catalog/municipalities.yaml) without a row gets an
information offer instead, never silence. See docs/rules-format.md, "Municipal tables".
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rules_engine.catalog import Agency, Places, load_agencies
from rules_engine.yaml_source import CatalogError, Lines, line_of, read_yaml

MUNICIPALITIES_FILE = "municipalities.yaml"
TABLES_DIR = "tables"
BEFORE_ANY_GRANT = date(1900, 1, 1)  # births before a row's first dated amount: not covered (amount 0)
_SIDO = re.compile(r"^[0-9]{2}$")
_SIGUNGU = re.compile(r"^[0-9]{5}$")
_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_ORDER = re.compile(r"^([1-9][0-9]?)\+$")
UNKNOWN_CODE = "00000"  # no 시군구 has it: the code the catch-all assumes while the household's is unknown
UNLISTED = "unlisted"  # the information offer for a code the list does not know, or an unknown one
# The keys a row and its parts may have: anything else is a typo or a key indented into the wrong mapping, which
# would otherwise load silently (a row whose `amounts` slipped under `ordinance` would count as not found).
ROW_KEYS = frozenset(
    {
        "code",
        "id",
        "agency",
        "name",
        "summary",
        "ordinance",
        "source",
        "seen",
        "amounts",
        "none",
        "residence",
        "application",
        "apply_url",
        "how",
        "homepage",
        "unconfirmed",
    }
)
ORDINANCE_KEYS = frozenset({"name", "number", "url", "article", "en"})
RESIDENCE_KEYS = frozenset({"months", "reference"})
_ORDINALS_KO = ("첫째", "둘째", "셋째", "넷째", "다섯째", "여섯째", "일곱째", "여덟째", "아홉째", "열째")
_ORDINALS_EN = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
_ORDINALS_VI = ("nhất", "hai", "ba", "tư", "năm", "sáu", "bảy", "tám", "chín", "mười")


# --- the code list -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Municipality:
    """A 시군구 (or a 시도 for its own programmes), with the codes a household registered there may carry."""

    code: str
    ko: str
    en: str
    sido: str
    start: date | None  # the code exists from (None: before the list's history)
    until: date | None  # last day the code exists (None: still in force)
    codes: tuple[str, ...]  # the code, its 일반구 (districts) and the codes it carried before
    line: int

    def current(self, on: date) -> bool:
        return (self.start is None or self.start <= on) and (self.until is None or on <= self.until)


@dataclass(frozen=True)
class CodeList:
    source: str
    as_of: date
    sido: Mapping[str, Municipality]
    municipalities: Mapping[str, Municipality]

    def of_sido(self, sido: str, on: date | None = None) -> list[Municipality]:
        return [m for m in self.municipalities.values() if m.sido == sido and (on is None or m.current(on))]

    def place(self, code: str) -> Municipality | None:
        return self.sido.get(code) or self.municipalities.get(code)

    def codes_of(self, code: str) -> tuple[str, ...]:
        """Every household code a row for `code` covers: a 시도 row covers all its 시군구."""
        if code in self.sido:
            return tuple(sorted({c for m in self.of_sido(code) for c in m.codes}))
        return self.municipalities[code].codes


def load_code_list(path: Path) -> CodeList:
    raw = read_yaml(path)

    def fail(within: Any, key: str | None, message: str) -> CatalogError:
        return CatalogError(f"{path}:{line_of(within, key)}: {message}")

    if not isinstance(raw, dict) or not {"source", "as_of", "sido", "municipalities"} <= set(raw):
        raise CatalogError(f"{path}: needs source, as_of, sido and municipalities")
    if not isinstance(raw["as_of"], date):
        raise fail(raw, "as_of", "as_of must be a date (YYYY-MM-DD)")
    sido: dict[str, Municipality] = {}
    for code, spec in raw["sido"].items():
        if not (isinstance(code, str) and _SIDO.match(code)) or not isinstance(spec, dict):
            raise fail(raw["sido"], str(code), f"a 시도 code is two digits in quotes, with ko and en: {code!r}")
        sido[code] = _place(code, code, spec, fail, ())
    municipalities: dict[str, Municipality] = {}
    seen: dict[str, str] = {}
    for code, spec in raw["municipalities"].items():
        if not (isinstance(code, str) and _SIGUNGU.match(code)) or not isinstance(spec, dict):
            raise fail(raw["municipalities"], str(code), f"a 시군구 code is five digits in quotes: {code!r}")
        if code[:2] not in sido:
            raise fail(raw["municipalities"], code, f"{code}: unknown 시도 '{code[:2]}'")
        extra = [*(spec.get("districts") or {}), *(f["code"] for f in spec.get("formerly") or ())]
        for other in (code, *extra):
            if not (isinstance(other, str) and _SIGUNGU.match(other)):
                raise fail(spec, None, f"{code}: district and former codes are five digits in quotes: {other!r}")
            if other in seen:
                raise fail(spec, None, f"{code}: code {other} is already listed under {seen[other]}")
            seen[other] = code
        municipalities[code] = _place(code, code[:2], spec, fail, tuple(extra))
    return CodeList(str(raw["source"]), raw["as_of"], sido, municipalities)


def _place(code: str, sido: str, spec: Any, fail: Any, extra: tuple[str, ...]) -> Municipality:
    for lang in ("ko", "en"):
        if not isinstance(spec.get(lang), str) or not spec[lang].strip():
            raise fail(spec, None, f"{code}: needs non-empty 'ko' and 'en' names")
    start, until = spec.get("from"), spec.get("until")
    for key, value in (("from", start), ("until", until)):
        if value is not None and not isinstance(value, date):
            raise fail(spec, key, f"{code}: '{key}' must be a date")
    return Municipality(code, spec["ko"], spec["en"], sido, start, until, (code, *extra), line_of(spec))


# --- the tables --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One municipality's entry: a grant (amounts) or a confirmed absence (none)."""

    code: str
    benefit_id: str | None  # None for a row recording that there is no grant
    unconfirmed: tuple[str, ...]
    none: str | None
    file: str
    line: int

    @property
    def confirmed(self) -> bool:
        return not self.unconfirmed

    @property
    def pending(self) -> bool:
        """Listed, but neither amounts nor a confirmed absence could be found: the information offer applies."""
        return self.benefit_id is None and self.none is None


@dataclass(frozen=True)
class Spec:
    """A benefit a table stands for: its mapping as the catalog's reader takes it, and where it is selected."""

    raw: dict[str, Any]
    places: Places
    coverage_gap: str | None = None  # for an information offer: the 시군구 code whose row is missing


@dataclass(frozen=True)
class Table:
    """A declared benefit with its per-municipality rows, and the information offers for the gaps."""

    name: str
    declaration: str
    codes: CodeList
    rows: Mapping[str, Row]  # by 시군구 or 시도 code
    information_prefix: str
    specs: list[tuple[Path, Spec]] = field(default_factory=list)  # benefit files, as the reader takes them
    agencies: dict[str, Agency] = field(default_factory=dict)  # one per municipality with a row

    def information_id(self, code: str) -> str:
        return f"{self.information_prefix}_{code}"


def is_declaration(raw: Any) -> bool:
    return isinstance(raw, dict) and "table" in raw


def expand(path: Path, raw: Any, catalog_dir: Path, agencies: Mapping[str, Agency]) -> Table:
    """The benefits a table declaration and its rows stand for (as raw benefit mappings), linted with file:line."""
    return _Expander(path, raw, catalog_dir, agencies).run()


class _Expander:
    def __init__(self, path: Path, raw: Any, catalog_dir: Path, agencies: Mapping[str, Agency]) -> None:
        self.path, self.raw, self.catalog_dir, self.agencies = path, raw, catalog_dir, agencies
        self.new_agencies: dict[str, Agency] = {}

    def fail(self, path: Path, within: Any, key: str | None, message: str) -> CatalogError:
        return CatalogError(f"{path}:{line_of(within, key)}: {message}")

    def need(self, path: Path, within: Any, key: str, kind: type | tuple[type, ...]) -> Any:
        if not isinstance(within, dict) or key not in within:
            raise self.fail(path, within, None, f"missing required key '{key}'")
        if not isinstance(within[key], kind):
            raise self.fail(path, within, key, f"'{key}' has the wrong type")
        return within[key]

    def known_keys(self, path: Path, within: Any, allowed: frozenset[str], what: str) -> None:
        if not isinstance(within, dict):
            return
        for key in within:
            if key not in allowed:
                raise self.fail(
                    path, within, str(key), f"{what} has no key {key!r} (a typo, or indented into the wrong mapping)"
                )

    def run(self) -> Table:
        d, p = self.raw, self.path
        name = self.need(p, d, "table", str)
        if not _ID.match(name):
            raise self.fail(p, d, "table", f"table name {name!r} must be snake_case ASCII")
        codes = load_code_list(self.catalog_dir / MUNICIPALITIES_FILE)
        info = self.need(p, d, "information", dict)
        specs: list[tuple[Path, Spec]] = []
        rows: dict[str, Row] = {}
        directory = self.catalog_dir / TABLES_DIR / name
        files = sorted(directory.glob("*.yaml"))
        if not files:
            raise self.fail(p, d, "table", f"no table files in {directory}")
        for file in files:
            for row, spec in self.rows(file, codes):
                if row.code in rows:
                    first = rows[row.code]
                    raise CatalogError(
                        f"{file}:{row.line}: {row.code} already has a row ({first.file}:{first.line}): "
                        "one row per municipality, its amounts dated inside it"
                    )
                rows[row.code] = row
                if spec is not None:
                    specs.append((file, Spec(spec, Places(frozenset(codes.codes_of(row.code))))))
        for m in codes.municipalities.values():
            if m.code not in rows or rows[m.code].pending:
                specs.append((p, Spec(self.information(m, info), Places(frozenset(m.codes)), m.code)))
        listed = sorted({c for m in codes.municipalities.values() for c in m.codes})
        specs.append((p, Spec(self.unlisted(listed, info), Places(frozenset(listed), outside=True), UNLISTED)))
        prefix = self.need(p, info, "id_prefix", str)
        return Table(name, str(p), codes, rows, prefix, specs, self.new_agencies)

    def rows(self, file: Path, codes: CodeList) -> Iterator[tuple[Row, dict[str, Any] | None]]:
        raw = read_yaml(file)
        sido = self.need(file, raw, "sido", str)
        if sido not in codes.sido:
            raise self.fail(file, raw, "sido", f"unknown 시도 code '{sido}' (see {MUNICIPALITIES_FILE})")
        for row in self.need(file, raw, "rows", list):
            if not isinstance(row, dict):
                raise self.fail(file, raw, "rows", 'each row is a mapping starting with `- code: "<code>"`')
            self.known_keys(file, row, ROW_KEYS, "a row")
            code = self.need(file, row, "code", str)
            place = codes.place(code)
            if place is None:
                raise self.fail(file, row, "code", f"unknown code '{code}' (not in {MUNICIPALITIES_FILE})")
            if place.sido != sido:
                raise self.fail(file, row, "code", f"{code} ({place.ko}) belongs to 시도 {place.sido}, not {sido}")
            source = self.need(file, row, "source", str)
            if not source.startswith(("https://", "http://")):
                raise self.fail(file, row, "source", f"{code}: source must be the official page's URL")
            seen = self.need(file, row, "seen", date)
            if not date(2000, 1, 1) <= seen <= date.today():
                raise self.fail(file, row, "seen", f"{code}: seen is the day the source was read, not {seen}")
            unconfirmed = row.get("unconfirmed") or []
            if not isinstance(unconfirmed, list) or not all(isinstance(u, str) and u.strip() for u in unconfirmed):
                raise self.fail(file, row, "unconfirmed", f"{code}: unconfirmed is a list of reasons, in words")
            if "amounts" in row and "none" in row:
                raise self.fail(file, row, None, f"{code}: give either 'amounts' (a grant) or 'none' (no grant)")
            if "amounts" not in row and "none" not in row:
                if not unconfirmed:
                    raise self.fail(
                        file, row, None, f"{code}: a row without 'amounts' or 'none' must say why under 'unconfirmed'"
                    )
                yield Row(code, None, tuple(unconfirmed), None, str(file), line_of(row)), None
                continue
            if "none" in row:
                none = self.need(file, row, "none", str)
                yield Row(code, None, tuple(unconfirmed), none, str(file), line_of(row)), None
                continue
            benefit_id = row.get("id") or f"{self.raw['id_prefix']}_{code}"
            if not (isinstance(benefit_id, str) and _ID.match(benefit_id)):
                raise self.fail(file, row, "id", f"{code}: id must be snake_case ASCII")
            spec = self.grant(file, row, place, benefit_id, source, unconfirmed, codes)
            yield Row(code, benefit_id, tuple(unconfirmed), None, str(file), line_of(row)), spec

    def amounts(self, file: Path, row: Any) -> tuple[list[date], list[list[int]]]:
        """Dates (ascending) and, per date, the amount for birth order 1..N (the last one also for later)."""
        code = row["code"]
        dated = self.need(file, row, "amounts", dict)
        if not dated:
            raise self.fail(file, row, "amounts", f"{code}: amounts are keyed by the birth date they start from")
        per_date: list[tuple[date, dict[int, int], int]] = []
        for start, by_order in dated.items():
            if not isinstance(start, date):
                raise self.fail(file, dated, str(start), f"{code}: amounts are keyed by dates (YYYY-MM-DD): {start!r}")
            if not isinstance(by_order, dict) or not by_order:
                raise self.fail(file, dated, str(start), f"{code}: {start}: give the amount per birth order")
            fixed: dict[int, int] = {}
            later: int | None = None
            for order, amount in by_order.items():
                if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                    raise self.fail(
                        file, by_order, None, f"{code}: {start}: amounts are whole numbers of KRW, not {amount!r}"
                    )
                match = _ORDER.match(order) if isinstance(order, str) else None
                if match:
                    if later is not None:
                        raise self.fail(file, by_order, None, f"{code}: {start}: one 'N+' key only")
                    later, fixed[int(match.group(1))] = int(match.group(1)), amount
                elif isinstance(order, int) and not isinstance(order, bool) and order >= 1:
                    fixed[order] = amount
                else:
                    raise self.fail(file, by_order, None, f"{code}: {start}: birth orders are 1, 2, ... and 'N+'")
            if later is None or sorted(fixed) != list(range(1, later + 1)):
                raise self.fail(
                    file,
                    by_order,
                    None,
                    f"{code}: {start}: birth orders must run 1, 2, ... up to an 'N+' key for N and later "
                    f"(got {sorted(fixed)})",
                )
            per_date.append((start, fixed, later))
        per_date.sort(key=lambda d: d[0])
        top = max(later for _, _, later in per_date)
        starts = [start for start, _, _ in per_date]
        values = [[fixed[min(order, later)] for order in range(1, top + 1)] for _, fixed, later in per_date]
        return starts, values

    def grant(
        self,
        file: Path,
        row: Any,
        place: Any,
        benefit_id: str,
        source: str,
        unconfirmed: list[str],
        codes: CodeList,
    ) -> dict[str, Any]:
        d, code = self.raw, row["code"]
        starts, values = self.amounts(file, row)
        ordinance = self.need(file, row, "ordinance", dict)
        self.known_keys(file, ordinance, ORDINANCE_KEYS, f"{code}: ordinance")
        law = self.need(file, ordinance, "name", str)
        number = ordinance.get("number")
        law_ko = f"{law} ({number})" if number else law
        words = {"place_ko": place.ko, "place_en": place.en, "place_vi": place.en, "from": starts[0].isoformat()}
        agency_id = row.get("agency") or f"lg_{code}"
        if "agency" in row and agency_id not in self.agencies:
            raise self.fail(file, row, "agency", f"{code}: unknown agency '{agency_id}'")
        if agency_id not in self.agencies:
            self.new_agencies[agency_id] = Agency(
                agency_id, {"ko": place.ko, "en": place.en}, row.get("homepage") or source
            )
        reasons = self.need(self.path, d, "reasons", dict)
        reference = ordinance.get("article") or law_ko
        top = len(values[0])
        parameters: dict[str, Any] = {}
        for order in range(1, top + 1):
            parameters[f"amount_order_{order}"] = {
                "description": {
                    "ko": f"{_ORDINALS_KO[order - 1] if order <= 10 else f'{order}번째'}"
                    f"{' 이상' if order == top else ''} 지원금(출생일 기준)",
                    "en": f"Grant for birth order {order}{' and later' if order == top else ''} (by the birth date)",
                },
                "reference": reference,
                "dated_by": "child.birth_date",
                "values": {BEFORE_ANY_GRANT: 0} | {s: v[order - 1] for s, v in zip(starts, values, strict=True)},
            }
        amount = f"params.amount_order_{top}"
        for order in range(top - 1, 0, -1):
            amount = f"(params.amount_order_{order} if child.birth_order == {order} else {amount})"
        listed = codes.codes_of(code)
        conditions = [
            _condition(f"household.municipality_code in {list(listed)!r}", reasons, "place", words, reference),
            _condition(f'child.birth_date >= date("{starts[0].isoformat()}")', reasons, "born_from", words, reference),
            _condition(f"{amount} > 0", reasons, "birth_order", words, reference),
        ]
        residence = row.get("residence")
        if residence is not None:
            self.known_keys(file, residence, RESIDENCE_KEYS, f"{code}: residence")
            months = self.need(file, residence, "months", int)
            if isinstance(months, bool) or months < 1:
                raise self.fail(file, residence, "months", f"{code}: residence months is a whole number >= 1")
            parameters["min_months_resident"] = {
                "description": {"ko": "최소 거주 기간(개월)", "en": "Minimum residence in months"},
                "reference": residence.get("reference") or reference,
                "values": {BEFORE_ANY_GRANT: months},
            }
            conditions.append(
                _condition(
                    "household.months_resident >= params.min_months_resident",
                    reasons,
                    "residence",
                    words | {"months": str(months)},
                    residence.get("reference") or reference,
                )
            )
        apply = self.need(self.path, d, "apply", dict)
        spec: dict[str, Any] = {
            "id": benefit_id,
            "name": row.get("name") or _words(self.need(self.path, d, "name", dict), words),
            "summary": _cautioned(row.get("summary") or _summary(place, values[-1], residence), place, unconfirmed),
            "agency": agency_id,
            "category": d.get("category"),
            "triggers": d.get("triggers"),
            "recipients": d.get("recipients"),
            "payment": d.get("payment"),
            "effective": {"from": starts[0]},
            "legal_basis": [
                {
                    "ko": law_ko,
                    "en": ordinance.get("en") or f"{place.en} ordinance: {law_ko}",
                    "url": ordinance.get("url"),
                }
            ],
            "source": source,
            "unconfirmed": list(unconfirmed),
            "apply": {"url": row.get("apply_url") or apply.get("url"), "how": row.get("how") or apply.get("how")},
            "parameters": parameters,
            "conditions": conditions,
            "amount": amount,
        }
        window = row.get("application")
        if window is not None:
            if not isinstance(window, dict):
                raise self.fail(file, row, "application", f"{code}: application is a period (from, length, counting)")
            spec["periods"] = {
                "application_window": {
                    "description": {"ko": "신청 기간", "en": "Application period"},
                    "reference": window.get("reference") or reference,
                    **{k: v for k, v in window.items() if k != "reference"},
                }
            }
            spec["apply"]["deadline"] = {"period": "application_window", "kind": "application_closes"}
        return _at(row, spec)

    def information(self, m: Municipality, info: Any) -> dict[str, Any]:
        # Vietnamese names a place by its romanised name; the catch-all, by the family's own address.
        place_vi = "thành phố, quận, huyện nơi bạn cư trú" if m.code == UNLISTED else m.en
        words = {"place_ko": m.ko, "place_en": m.en, "place_vi": place_vi}
        p = self.path
        legal = self.need(p, info, "legal_basis", dict)
        spec = {
            "id": f"{info['id_prefix']}_{m.code}",
            "name": _words(self.need(p, info, "name", dict), words),
            "summary": _words(self.need(p, info, "summary", dict), words),
            "agency": self.need(p, info, "agency", str),
            "category": self.raw.get("category"),
            "triggers": self.raw.get("triggers"),
            "recipients": self.raw.get("recipients"),
            "payment": "information",
            "effective": {"from": m.start or self.need(p, info, "from", date)}
            | ({"until": m.until} if m.until else {}),
            "legal_basis": [legal],
            "source": self.need(p, info, "source", str),
            "unconfirmed": [
                _words(self.need(p, info, "unconfirmed", dict), words)["en"],
            ],
            "apply": self.need(p, info, "apply", dict),
            "conditions": [
                {
                    "when": f"household.municipality_code in {list(m.codes)!r}",
                    "reason": _words(self.need(p, info, "reason", dict), words),
                    "reference": legal.get("ko", ""),
                }
            ],
        }
        return _at(info, spec)

    def unlisted(self, listed: list[str], info: Any) -> dict[str, Any]:
        """The catch-all: a code the list does not know (a new 시군구) still gets pointed to its grant."""
        place = Municipality("unlisted", "주소지 시·군·구", "your city, county or district", "", None, None, (), 0)
        spec = self.information(place, info)
        spec["conditions"][0]["when"] = f"household.municipality_code not in {listed!r}"
        spec["effective"] = {"from": self.need(self.path, info, "from", date)}
        # A household whose code is unknown gets this one offer, decided, rather than an undetermined decision per
        # municipality: the code is assumed to be one the list does not hold, in the open.
        spec["assume_when_unknown"] = {
            "household.municipality_code": {
                "value": UNKNOWN_CODE,
                "reason": self.need(self.path, info, "unknown", dict),
            }
        }
        return spec


def _words(texts: Mapping[str, Any], words: Mapping[str, str]) -> dict[str, str]:
    # vi only where the table gives it: a reader falls back to English for a text without it.
    languages = ("ko", "en", "vi") if "vi" in texts else ("ko", "en")
    return {lang: str(texts.get(lang, "")).format(**words) for lang in languages}


def _condition(when: str, reasons: Any, key: str, words: Mapping[str, str], reference: str) -> dict[str, Any]:
    return {"when": when, "reason": _words(reasons.get(key) or {}, words), "reference": reference}


def _at(within: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """A generated mapping whose errors point at the row it was generated from."""
    lines = Lines(spec)
    lines.lines, lines.line = {}, line_of(within)
    return lines


def _won_ko(amount: int) -> str:
    if amount % 10_000 == 0:
        return f"{amount // 10_000:,}만 원"
    return f"{amount:,}원"


def _cautioned(summary: dict[str, str], place: Any, unconfirmed: list[str]) -> dict[str, str]:
    """A row read from news or a listing rather than the ordinance says so to the family, in the summary every
    screen shows: a wrong amount stated as fact is worse than a hedged one."""
    if not unconfirmed:
        return summary
    caution = {
        "ko": f" 이 금액과 조건은 공식 자료로 아직 확인되지 않았으니, 신청 전에 {place.ko}에 확인하세요.",
        "en": f" This amount and its conditions are not yet confirmed from an official source: check with"
        f" {place.en} before you apply.",
        "vi": f" Số tiền và điều kiện này chưa được xác nhận từ nguồn chính thức: hãy hỏi {place.en} trước khi"
        f" đăng ký.",
    }
    return {lang: text + caution.get(lang, caution["en"]) for lang, text in summary.items()}


def _summary(place: Any, amounts: list[int], residence: Any) -> dict[str, str]:
    """'강서구에서 태어난 아이에게 첫째 50만 원, ... 을 지급합니다' from the latest dated amounts."""
    top = len(amounts)
    ko, en, vi = [], [], []
    for order, amount in enumerate(amounts, start=1):
        if amount == 0:
            continue
        tail_ko, tail_en = (" 이상", " and later") if order == top and top > 1 else ("", "")
        if top == 1:
            ko.append(f"모든 출생아 {_won_ko(amount)}")
            en.append(f"{amount:,} KRW for every child")
            vi.append(f"{amount:,} KRW cho mỗi trẻ")
        else:
            ko.append(f"{_ORDINALS_KO[order - 1] if order <= 10 else f'{order}번째'}{tail_ko} {_won_ko(amount)}")
            en.append(f"{amount:,} KRW for a {_ORDINALS_EN[order - 1] if order <= 10 else f'{order}th'}{tail_en} child")
            tail_vi = " trở lên" if tail_en else ""
            vi.append(f"{amount:,} KRW cho con thứ {_ORDINALS_VI[order - 1] if order <= 10 else order}{tail_vi}")
    if not ko:
        return {
            "ko": f"{place.ko} 출산지원금은 현재 새로 태어나는 아이에게 지급되지 않습니다.",
            "en": f"{place.en} no longer pays a childbirth grant for children born now.",
            "vi": f"{place.en} hiện không còn trả trợ cấp sinh con cho trẻ mới sinh.",
        }
    stay_ko = f" 보호자가 {residence['months']}개월 이상 살았어야 합니다." if residence else ""
    stay_en = f" The parent must have lived there for {residence['months']} months or more." if residence else ""
    stay_vi = f" Cha hoặc mẹ phải sống ở đó từ {residence['months']} tháng trở lên." if residence else ""
    return {
        "ko": f"{place.ko}에 출생신고한 아이에게 {', '.join(ko)}을 지급합니다.{stay_ko}",
        "en": f"{place.en} pays a childbirth grant of {', '.join(en)}.{stay_en}",
        "vi": f"{place.en} trả trợ cấp sinh con: {', '.join(vi)}.{stay_vi}",
    }


# --- coverage ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SidoCoverage:
    sido: str
    name: str
    municipalities: int  # 시군구 in force on the date
    covered: int  # with a row deciding it: a grant, or a recorded absence
    confirmed: int  # covered, with nothing left unconfirmed
    pending: int  # listed, but amounts not found: the information offer applies
    missing: int  # no row at all: the information offer applies
    tested: int  # grant rows with at least one YAML case
    own_programme: str  # the 시도's own programme: grant / none / unconfirmed / missing


def coverage(catalog_dir: Path, table: str, tested_ids: set[str], on: date) -> list[SidoCoverage]:
    """Per 시도: how many 시군구 a table decides, how many of them are confirmed, what is missing."""
    declaration = next(
        p for p in sorted(catalog_dir.rglob("*.yaml")) if is_declaration(raw := read_yaml(p)) and raw["table"] == table
    )
    agencies = load_agencies(catalog_dir / "agencies.yaml")
    expanded = expand(declaration, read_yaml(declaration), catalog_dir, agencies)
    result = []
    for code, sido in sorted(expanded.codes.sido.items()):
        places = expanded.codes.of_sido(code, on)
        rows = [expanded.rows[m.code] for m in places if m.code in expanded.rows]
        covered = [r for r in rows if not r.pending]
        own = expanded.rows.get(code)
        if own is None:
            status = "missing"
        elif own.pending:
            status = "unconfirmed"
        else:
            status = ("grant" if own.benefit_id else "none") + ("" if own.confirmed else " (unconfirmed)")
        result.append(
            SidoCoverage(
                code,
                sido.ko,
                len(places),
                len(covered),
                sum(1 for r in covered if r.confirmed),
                sum(1 for r in rows if r.pending),
                len(places) - len(rows),
                sum(1 for r in covered if r.benefit_id in tested_ids),
                status,
            )
        )
    return result
