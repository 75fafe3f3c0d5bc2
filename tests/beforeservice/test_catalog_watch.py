"""A broken rule edit never loads half-way: the previous catalog stays active and the error is reported."""

from __future__ import annotations

import shutil
from pathlib import Path

from beforeservice.catalog_watch import CatalogWatch
from entitlements import CATALOG_DIR


def test_broken_edit_keeps_previous_catalog_until_fixed(tmp_path: Path) -> None:
    directory = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, directory)
    watch = CatalogWatch(directory)
    before = watch.current()
    voucher = directory / "birth" / "first_meeting_voucher.yaml"
    good_text = voucher.read_text(encoding="utf-8")

    voucher.write_text(good_text.replace("child.birth_order >= 1", "child.birth_order >= "), encoding="utf-8")
    assert watch.current() is before
    assert watch.last_error is not None and "first_meeting_voucher.yaml" in watch.last_error

    voucher.write_text(good_text.replace("2024-01-01: 3000000", "2024-01-01: 3100000"), encoding="utf-8")
    after = watch.current()
    assert after is not before and watch.last_error is None
    assert after.benefits["first_meeting_voucher"].parameters["amount_second_or_later_child"].values[-1] == 3_100_000
