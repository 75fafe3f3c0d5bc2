"""A citizen's own quiet hours in the preferences API: HH:MM (Seoul) both or neither; anything else is refused."""

from __future__ import annotations

from datetime import time

import pytest
from pydantic import ValidationError

from beforeservice.api.citizens import Preferences


def test_own_quiet_hours_are_both_hh_mm_or_both_null() -> None:
    assert Preferences(quiet_hours_start="22:30", quiet_hours_end="06:00").quiet() == (time(22, 30), time(6))
    assert Preferences().quiet() is None  # the service's default
    assert Preferences(quiet_hours_start="00:00", quiet_hours_end="00:00").quiet() == (time(0), time(0))  # none


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("24:00", "06:00", "quiet_hours_start"),
        ("22:00", "6:00", "quiet_hours_end"),
        ("22:00<script>", "06:00", "quiet_hours_start"),
        ("22:00", None, "set together"),
    ],
)
def test_bad_quiet_hours_are_refused_naming_the_field(start: str, end: str | None, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Preferences(quiet_hours_start=start, quiet_hours_end=end)
    assert field in str(refused.value)
