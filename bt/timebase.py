"""Guest time: the Clock devices read, and the timer-event interface the run loop drives.

Design notes:

- Devices never read host time themselves. They take a `Clock` and derive everything (PIT
  counts, RTC seconds, periodic interrupts) from `now_ns()`, so a run on `VirtualClock` is
  exactly reproducible: the engine advances the clock (say, by executed instructions) and the
  same guest sees the same counts every time. `HostClock` is for --realtime runs.
- A device with time-driven interrupts is a `TimerDevice`: `next_deadline_ns()` says when its
  next event falls (None: nothing scheduled), `tick(now_ns)` raises whatever became due up to
  `now_ns`. The run loop asks every timer device for its deadline, runs the CPU until the
  earliest one (`earliest_deadline`), advances the clock and ticks the devices. Ticking early or
  twice is harmless: a device only acts on events whose time has come.
- Register reads stay exact between ticks: a device computes counts and flags from `now_ns()` at
  the moment of the access, as QEMU does from its virtual clock.
- The time-stamp counter is guest time too, and lives here (`TimeStampCounter`): it counts
  `TSC_HZ` ticks per second of the machine's Clock (1 GHz: one tick per nanosecond, so the
  conversion is exact and a kernel's log shows a round "1000.000 MHz"; QEMU TCG's TSC follows
  the host's, whose rate differs from host to host and would make no run reproducible). It is
  invariant (the rate never changes, HLT included: the clock runs on) and monotonic (the clock
  is), and only WRMSR 0x10 or IA32_TSC_ADJUST moves it. On a VirtualClock every RDTSC is a
  monitor entry that moves the clock on (bt/hookexit.py MONITOR_ENTRY_NS), so a guest spinning
  on RDTSC sees 1000 ticks a read and its loop ends, and the PIT, the RTC and the TSC agree on
  how much time passed because they read the same nanoseconds.
- Each clock and the TSC save and restore a state record (bt/staterecord.py); a restored clock
  goes on from the saved time (a HostClock: from the saved time at the moment of the restore).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from bt.errors import InternalError
from bt.staterecord import check_record, require_range

NS_PER_SEC = 1_000_000_000
TSC_HZ = 1_000_000_000  # the TSC rate the guest sees (see the design notes above)
TSC_MASK = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class VirtualClockState:
    """A VirtualClock's time."""

    now_ns: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class HostClockState:
    """A HostClock's elapsed time when it was saved."""

    now_ns: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class TscState:
    """The time-stamp counter's offset from the clock's count, and IA32_TSC_ADJUST."""

    offset: int
    adjust: int
    version: int = 2


class Clock(Protocol):
    """Monotonic guest time in nanoseconds since the machine was made."""

    def now_ns(self) -> int:
        """The current guest time."""
        ...


class VirtualClock:
    """Deterministic time: it moves only when the engine calls `advance` (the default)."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def now_ns(self) -> int:
        """The current virtual time."""
        return self._now

    def advance(self, ns: int) -> None:
        """Move time forward by `ns` nanoseconds (never backwards)."""
        if ns < 0:
            raise InternalError(f"virtual clock moved backwards by {-ns} ns")
        self._now += ns

    def advance_to(self, when_ns: int) -> None:
        """Move time forward to `when_ns` if it lies ahead (a deadline the run loop reached)."""
        self._now = max(self._now, when_ns)

    def save(self) -> VirtualClockState:
        """The current time as a state record."""
        return VirtualClockState(now_ns=self._now)

    def restore(self, state: VirtualClockState) -> None:
        """Set the time the record holds (it may lie behind: a restore is not an advance)."""
        state = check_record(state, VirtualClockState, "virtual clock")
        require_range("virtual clock", state, "now_ns", 0, 1 << 63)
        self._now = state.now_ns


class HostClock:
    """Host monotonic time since the clock was made (for --realtime)."""

    def __init__(self) -> None:
        self._origin = time.monotonic_ns()

    def now_ns(self) -> int:
        """Nanoseconds of host time since construction."""
        return time.monotonic_ns() - self._origin

    def save(self) -> HostClockState:
        """The elapsed time now as a state record."""
        return HostClockState(now_ns=self.now_ns())

    def restore(self, state: HostClockState) -> None:
        """Go on from the saved elapsed time: host time spent saved does not count."""
        state = check_record(state, HostClockState, "host clock")
        require_range("host clock", state, "now_ns", 0, 1 << 63)
        self._origin = time.monotonic_ns() - state.now_ns


class TimeStampCounter:
    """The guest's TSC: `hz` ticks a second of `clock`, plus the offset WRMSR 0x10 and
    IA32_TSC_ADJUST give it (both modulo 2^64, as the SDM has them)."""

    def __init__(self, clock: Clock, hz: int = TSC_HZ) -> None:
        self._clock = clock
        self.hz = hz
        self.offset = 0
        self.adjust = 0  # IA32_TSC_ADJUST: what software added to the TSC (SDM 18.17.3)

    def _count(self) -> int:
        return self._clock.now_ns() * self.hz // NS_PER_SEC

    @property
    def value(self) -> int:
        """The counter now (RDTSC, RDMSR 0x10)."""
        return (self._count() + self.offset) & TSC_MASK

    def rdtsc(self) -> int:
        """RDTSC: the counter at the clock's current time."""
        return self.value

    def write(self, value: int) -> None:
        """WRMSR IA32_TIME_STAMP_COUNTER: the counter takes `value`; IA32_TSC_ADJUST moves by
        as much as the counter did (SDM 18.17.3)."""
        old = self.value
        self.offset = (value - self._count()) & TSC_MASK
        self.adjust = (self.adjust + value - old) & TSC_MASK

    def write_adjust(self, value: int) -> None:
        """WRMSR IA32_TSC_ADJUST: the counter moves by the change of the adjustment."""
        self.offset = (self.offset + value - self.adjust) & TSC_MASK
        self.adjust = value & TSC_MASK

    def save(self) -> TscState:
        """The offset and the adjustment (the time itself is the clock's record)."""
        return TscState(offset=self.offset, adjust=self.adjust)

    def restore(self, state: TscState) -> None:
        """Take the values `save` returned (with the clock restored, the counter goes on)."""
        state = check_record(state, TscState, "tsc")
        require_range("tsc", state, "offset adjust", 0, TSC_MASK)
        self.offset, self.adjust = state.offset, state.adjust


class TimerDevice(Protocol):
    """A device whose interrupts depend on time (PIT, RTC)."""

    def next_deadline_ns(self) -> int | None:
        """Guest time of the next event, or None if nothing is scheduled."""
        ...

    def tick(self, now_ns: int) -> None:
        """Raise every interrupt that became due at or before `now_ns`."""
        ...


def earliest_deadline(devices: Iterable[TimerDevice]) -> int | None:
    """The soonest deadline among `devices`, or None if none has one."""
    deadlines = [d for d in (dev.next_deadline_ns() for dev in devices) if d is not None]
    return min(deadlines) if deadlines else None
