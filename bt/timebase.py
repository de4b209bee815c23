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
- The time-stamp counter is guest time too, and lives here (`TimeStampCounter`): RDTSC steps it
  by a fixed `TSC_STEP` per read, so its values depend only on the guest's own RDTSCs and WRMSRs,
  never on the host or on how often the monitor ran (the values a guest sees are the same on
  every run, --realtime included).
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
TSC_STEP = 1000  # TSC ticks per RDTSC: the counter moves forward at every read
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
    """The time-stamp counter's value."""

    value: int
    version: int = 1


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
    """The guest's TSC: RDTSC steps and reads it, RDMSR/WRMSR 0x10 read and set it."""

    def __init__(self, value: int = 0) -> None:
        self.value = value & TSC_MASK

    def rdtsc(self) -> int:
        """RDTSC: the counter moves `TSC_STEP` forward and the guest reads the new value."""
        self.value = (self.value + TSC_STEP) & TSC_MASK
        return self.value

    def write(self, value: int) -> None:
        """WRMSR IA32_TIME_STAMP_COUNTER."""
        self.value = value & TSC_MASK

    def save(self) -> TscState:
        """The counter as a state record."""
        return TscState(value=self.value)

    def restore(self, state: TscState) -> None:
        """Take the value `save` returned."""
        state = check_record(state, TscState, "tsc")
        require_range("tsc", state, "value", 0, TSC_MASK)
        self.value = state.value


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
