"""Three-valued eligibility: a missing fact is "can't tell yet", never "no"."""

from enum import StrEnum


class Eligibility(StrEnum):
    ELIGIBLE = "eligible"
    NOT_ELIGIBLE = "not_eligible"
    UNDETERMINED = "undetermined"
