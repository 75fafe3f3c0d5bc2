"""The consent categories: every benefit belongs to one, and citizens opt in to being told per category and channel.

Their one home: the catalog validates a benefit's `category` against them, the notifiers check consents and the
bereavement tact against them, the API and the console accept and show their values.
"""

from __future__ import annotations

from enum import StrEnum


class ConsentCategory(StrEnum):
    CHILDBIRTH_CHILDCARE = "childbirth_childcare"
    ELDERLY = "elderly"
    DISABILITY = "disability"
    EMPLOYMENT = "employment"
    HOUSING = "housing"
    BEREAVEMENT = "bereavement"  # a death: next of kin are told only after a cooling-off


def is_category(value: object) -> bool:
    """`value in ConsentCategory` for any value (Python 3.11 raises TypeError for a string that is no member)."""
    return isinstance(value, str) and value in _VALUES


_VALUES = frozenset(c.value for c in ConsentCategory)
