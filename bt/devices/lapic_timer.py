"""ApicTimer: the local APIC's timer (initial and current count, divide configuration, one-shot
and periodic), counted from the machine's one clock as QEMU 7.2 counts it.

QEMU's APIC timer runs at 1 GHz (one count per nanosecond of virtual time) divided by the
divide configuration register: bits 0, 1 and 3 make v = (b1 b0) | b3 << 2, and the count steps
every 2 ** ((v + 1) & 7) ns (v = 7: divide by 1). A count of N lasts N + 1 steps, in one-shot
and in periodic mode alike (hw/intc/apic_common.c's apic_next_timer); reads of the current count
are computed from the time of the read. The TSC-deadline mode does not exist here: no CPU model
bt offers reports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

LVT_MASKED = 1 << 16
LVT_PERIODIC = 1 << 17


class Clock(Protocol):
    """Guest time (bt.timebase.Clock, restated: devices import nothing above bt.devices)."""

    def now_ns(self) -> int:
        """Nanoseconds of guest time."""
        ...


def count_shift(divide: int) -> int:
    """log2 of the divisor a divide configuration value selects."""
    v = (divide & 3) | ((divide >> 1) & 4)
    return (v + 1) & 7


class ApicTimer:
    """The timer's registers and its next expiry; `fire()` is the LVT timer entry's delivery."""

    def __init__(self, clock: Clock, lvt: Callable[[], int], fire: Callable[[], None]) -> None:
        self._clock = clock
        self._lvt = lvt  # the LVT timer register (mode and mask)
        self._fire = fire
        self.initial = 0
        self.divide = 0
        self._shift = count_shift(0)
        self._load_ns = 0
        self._next_ns: int | None = None

    def reset(self) -> None:
        """Power-on and INIT state: count 0, divide by 2, nothing scheduled."""
        self.initial = self.divide = self._load_ns = 0
        self._shift = count_shift(0)
        self._next_ns = None

    def write_initial(self, value: int) -> None:
        """The initial-count register: the count restarts now."""
        self.initial = value & 0xFFFFFFFF
        self._load_ns = self._clock.now_ns()
        self.update(self._load_ns)

    def write_divide(self, value: int) -> None:
        """The divide configuration register (bits 0, 1 and 3 are kept)."""
        self.divide = value & 0xB
        self._shift = count_shift(self.divide)

    def lvt_written(self) -> None:
        """The LVT timer entry changed (mode or mask): schedule again from now."""
        self.update(self._clock.now_ns())

    def current(self) -> int:
        """The current-count register at this moment."""
        d = (self._clock.now_ns() - self._load_ns) >> self._shift
        if self._lvt() & LVT_PERIODIC:
            return self.initial - d % (self.initial + 1)
        return 0 if d >= self.initial else self.initial - d

    def update(self, now_ns: int) -> None:
        """Schedule the next expiry after `now_ns` (QEMU's apic_next_timer), or none."""
        lvt = self._lvt()
        self._next_ns = None
        if lvt & LVT_MASKED:
            return
        d = (now_ns - self._load_ns) >> self._shift
        period = self.initial + 1
        if lvt & LVT_PERIODIC:
            if not self.initial:
                return
            d = (d // period + 1) * period
        elif d >= self.initial:
            return
        else:
            d = period
        self._next_ns = self._load_ns + (d << self._shift)

    # -- the timer-event interface (bt.timebase.TimerDevice) -------------------------------------
    def next_deadline_ns(self) -> int | None:
        """The next expiry, or None."""
        return self._next_ns

    def tick(self, now_ns: int) -> None:
        """Deliver the expiry due by `now_ns`: one interrupt however many periods passed (the
        IRR holds one request per vector), then the next period after `now_ns`."""
        if self._next_ns is None or self._next_ns > now_ns:
            return
        self._fire()
        self.update(now_ns)
