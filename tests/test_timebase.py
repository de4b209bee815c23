"""Unit tests of bt.timebase: virtual and host clocks, the earliest-deadline helper."""

from __future__ import annotations

import pytest

from bt.errors import InternalError
from bt.timebase import HostClock, VirtualClock, earliest_deadline


class _Timer:
    def __init__(self, deadline: int | None) -> None:
        self.deadline = deadline

    def next_deadline_ns(self) -> int | None:
        return self.deadline

    def tick(self, now_ns: int) -> None:
        pass


def test_virtual_clock_moves_only_when_advanced() -> None:
    clock = VirtualClock()
    assert clock.now_ns() == 0
    clock.advance(1500)
    clock.advance(0)
    assert clock.now_ns() == 1500
    clock.advance_to(1000)  # in the past: no change
    assert clock.now_ns() == 1500
    clock.advance_to(2000)
    assert clock.now_ns() == 2000


def test_virtual_clock_refuses_to_go_backwards() -> None:
    clock = VirtualClock(start_ns=10)
    with pytest.raises(InternalError):
        clock.advance(-1)
    assert clock.now_ns() == 10


def test_host_clock_is_monotonic_from_zero() -> None:
    clock = HostClock()
    first = clock.now_ns()
    second = clock.now_ns()
    assert 0 <= first <= second


def test_earliest_deadline() -> None:
    assert earliest_deadline([]) is None
    assert earliest_deadline([_Timer(None), _Timer(None)]) is None
    assert earliest_deadline([_Timer(None), _Timer(500), _Timer(300)]) == 300
