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
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

from bt.errors import InternalError

NS_PER_SEC = 1_000_000_000


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


class HostClock:
    """Host monotonic time since the clock was made (for --realtime)."""

    def __init__(self) -> None:
        self._origin = time.monotonic_ns()

    def now_ns(self) -> int:
        """Nanoseconds of host time since construction."""
        return time.monotonic_ns() - self._origin


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
