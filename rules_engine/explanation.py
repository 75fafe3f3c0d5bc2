"""Plain-language reasons for a decision, in Korean and English, citing the law (built from the trace)."""

from __future__ import annotations

from dataclasses import dataclass

from rules_engine.eligibility import Eligibility
from rules_engine.evaluation import Decision

_VERDICT = {
    Eligibility.ELIGIBLE: {"ko": "받을 수 있어요", "en": "you can receive it"},
    Eligibility.NOT_ELIGIBLE: {"ko": "해당하지 않아요", "en": "you do not qualify"},
    Eligibility.UNDETERMINED: {"ko": "확인이 더 필요해요", "en": "more information is needed"},
}
_JOIN = {"ko": ", ", "en": "; "}


def reason(decision: Decision, lang: str) -> str:
    """E.g. "아동수당: 만 8세 미만 아동 — 아동수당법 제4조 (받을 수 있어요)"."""
    benefit = decision.benefit
    if decision.eligibility is Eligibility.NOT_ELIGIBLE:
        held = [o for o in decision.trace if o.holds is False]
    elif decision.eligibility is Eligibility.UNDETERMINED:
        held = [o for o in decision.trace if o.holds is None]
    else:
        held = list(decision.trace)
    because = _JOIN[lang].join(o.reason[lang] for o in held) or benefit.summary[lang]
    law = getattr(benefit.legal_basis[0], lang)
    text = f"{benefit.name[lang]}: {because} — {law} ({_VERDICT[decision.eligibility][lang]})"
    if decision.missing:
        label = "확인할 사항" if lang == "ko" else "to check"
        text += f" [{label}: {', '.join(decision.missing)}]"
    return text


def trace_record(decision: Decision) -> list[dict[str, object]]:
    """The full trace for caseworkers: every condition, whether it held, and its legal reference."""
    return [
        {
            "when": o.expression,
            "holds": o.holds,
            "reason_ko": o.reason["ko"],
            "reason_en": o.reason["en"],
            "reference": o.reference,
        }
        for o in decision.trace
    ]


@dataclass(frozen=True)
class Explanation:
    """What a citizen and a caseworker read about one decision: reasons in both languages and the trace."""

    reason_ko: str
    reason_en: str
    trace: list[dict[str, object]]  # shared between equal decisions: never mutate it


_EXPLAINED: dict[int, tuple[Decision, Explanation]] = {}
_MAX_EXPLAINED = 16_384


def explain(decision: Decision) -> Explanation:
    """reason() and trace_record() of a decision, kept per decision object.

    The evaluator interns equal decisions, so the same few recur across a batch (every second child in Suwon):
    the text is built once for each, not once per offer."""
    entry = _EXPLAINED.get(id(decision))
    if entry is not None and entry[0] is decision:
        return entry[1]
    if len(_EXPLAINED) >= _MAX_EXPLAINED:
        _EXPLAINED.clear()
    explained = Explanation(reason(decision, "ko"), reason(decision, "en"), trace_record(decision))
    _EXPLAINED[id(decision)] = (decision, explained)
    return explained
