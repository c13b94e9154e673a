"""The server's training slots: a spare one for work worth doing only at once."""

from __future__ import annotations

import threading

from dashboard.model import runner


def test_a_spare_slot_is_taken_only_when_free() -> None:
    slots = threading.BoundedSemaphore(1)
    with runner.spare_slot(slots) as first:
        assert first
        with runner.spare_slot(slots) as second:
            assert not second  # taken: no waiting
    with runner.spare_slot(slots) as again:
        assert again  # released after use
