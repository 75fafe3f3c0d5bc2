"""One stable-id scheme (entitlements/ids.py): the ids of every kind, pinned to the values already stored."""

from __future__ import annotations

import uuid

from entitlements import ids

SOURCE = "/agencies/mois/registry/41110"


def test_offer_and_notification_ids_keep_the_values_stored_so_far() -> None:
    """Literals computed by the derivation before it moved here: a change would orphan every stored offer."""
    assert ids.offer_id(SOURCE, "e-1", "child_allowance", "c-1", correction=False) == (
        "323115a2-5e5b-5cf9-a650-ebb2f20fabd1"
    )
    assert ids.offer_id(SOURCE, "e-1", "child_allowance", "c-1", correction=True) == (
        "5440f97a-cd49-51b5-a05a-75e37cf45f45"
    )
    assert ids.notification_id(SOURCE, "e-1", "p-1") == "3df0defd-262b-5c25-9a11-133335fb67a1"


def test_the_kinds_with_their_former_derivation_keep_it() -> None:
    assert ids.reminder_notice_id("p-1", "ent-1:d14") == "e236b26b-61bc-5074-a240-948e4141933c"
    assert ids.backfill_offer_id("child_allowance/2025-01-01", "c-1") == "bce1a7f1-9fcd-5f07-e731-f0eba6c6efb7"
    assert ids.backfill_offer_id("child_allowance/2025-01-01", "c-1") == ids.md5_id(
        ids.backfill_key_prefix("child_allowance/2025-01-01") + "c-1"
    )


def test_the_scheme_is_uuid5_of_the_parts_under_one_namespace() -> None:
    for parts in [("a", "b"), (SOURCE, "가족-1", "child_allowance", "c-1"), ("",)]:
        assert ids.stable_id(*parts) == str(uuid.uuid5(ids.NAMESPACE, "\x1f".join(parts)))


def test_an_approval_derives_the_same_notice_id_each_time_and_one_per_recipient() -> None:
    first = ids.approval_notice_id("ent-1", "mother")
    assert first == ids.approval_notice_id("ent-1", "mother")
    assert first == ids.notification_id(ids.APPROVAL_SOURCE, ids.approval_event_id("ent-1"), "mother")
    assert len({first, ids.approval_notice_id("ent-1", "father"), ids.approval_notice_id("ent-2", "mother")}) == 3
    assert uuid.UUID(first).version == 5
