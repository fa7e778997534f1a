"""Ids sort by creation time and never repeat within a process."""

from __future__ import annotations

from models.ids import id_for_time, new_id


def test_ids_increase_and_are_unique() -> None:
    ids = [new_id() for _ in range(50_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(0 < i < 1 << 63 for i in ids)


def test_backdated_ids_sort_by_their_time() -> None:
    older = new_id(at_ms=1_600_000_000_000)
    newer = new_id(at_ms=1_700_000_000_000)
    assert id_for_time(1_600_000_000_000) <= older < id_for_time(1_600_000_000_001)
    assert older < newer < new_id()
