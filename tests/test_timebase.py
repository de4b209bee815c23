"""Unit tests of bt.timebase: virtual and host clocks, the TSC on the clock, the earliest-deadline
helper."""

from __future__ import annotations

import dataclasses

import pytest

from bt.callouts.msr import has_tsc_adjust
from bt.cpumodel import DEFAULT
from bt.errors import InternalError
from bt.timebase import TSC_HZ, HostClock, TimeStampCounter, VirtualClock, earliest_deadline


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


def test_tsc_counts_the_clock_at_its_rate() -> None:
    clock = VirtualClock()
    tsc = TimeStampCounter(clock)
    assert TSC_HZ == 1_000_000_000 and tsc.rdtsc() == 0
    clock.advance(1000)  # one monitor entry
    assert tsc.rdtsc() == tsc.value == 1000
    slow = TimeStampCounter(clock, hz=3_000_000)  # another rate: ticks = ns * hz / 1e9, floored
    clock.advance(333)
    assert slow.rdtsc() == 3 and tsc.rdtsc() == 1333


def test_tsc_write_and_adjust_follow_the_sdm() -> None:
    clock = VirtualClock(5000)
    tsc = TimeStampCounter(clock)
    tsc.write(0xFFFF_FFFF_FFFF_FC00)  # WRMSR 0x10 near the top: it wraps 1024 ns later
    assert tsc.adjust == (0xFFFF_FFFF_FFFF_FC00 - 5000) & ((1 << 64) - 1)  # moved as the TSC did
    clock.advance(1024 + 7)
    assert tsc.rdtsc() == 7
    tsc.write_adjust(0)  # the TSC goes back by what the adjustment held
    assert tsc.adjust == 0 and tsc.rdtsc() == 5000 + 1031
    tsc.write_adjust(100)
    assert tsc.rdtsc() == 6131 and tsc.adjust == 100


def test_tsc_goes_on_from_a_restored_clock() -> None:
    clock = VirtualClock()
    tsc = TimeStampCounter(clock)
    clock.advance(10_000)
    tsc.write(50)
    saved, at = tsc.save(), clock.save()
    clock.advance(999)
    other_clock = VirtualClock()
    other_clock.restore(at)
    other = TimeStampCounter(other_clock)
    other.restore(saved)
    assert other.rdtsc() == 50 and tsc.rdtsc() == 1049


def test_tsc_adjust_msr_only_where_the_model_reports_it() -> None:
    # qemu32's top basic leaf is 4: CPUID 7 answers as leaf 4, whose EBX bit 1 is set.
    assert DEFAULT.max_basic < 7 and DEFAULT.cpuid(7, 0)[1] & 2 and not has_tsc_adjust(DEFAULT)
    top = (0, 0, 7, *DEFAULT.leaves[0][3:])
    rows = (top, *DEFAULT.leaves[1:], (7, 0, 0, 2, 0, 0))
    assert has_tsc_adjust(dataclasses.replace(DEFAULT, leaves=rows))
