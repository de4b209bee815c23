"""IrqSource: what the run loop asks at each safe point: device time brought up to date, and
the external interrupt the guest should take, if any.

The run loop never polls between guest instructions. It asks at the points where the monitor
runs anyway (callouts, unchained exits, HLT) and, when translated code runs for a while
without entering the monitor, at the backstop (`BACKSTOP_BLOCKS` executed blocks,
bt/backstop.py): a guest that ran that long without a monitor entry and with interrupts
enabled is taken to be waiting, and virtual time moves to the next timer event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from bt.nmi import NmiLine
from bt.timebase import Clock, TimerDevice, earliest_deadline

# Blocks translated code may run without a monitor entry before the run loop looks at pending
# interrupts and the time limit (counted natively: Python stays off the hot path). A count,
# not host time, so that a run is the same on a slow or loaded host.
BACKSTOP_BLOCKS = 1 << 20


class InterruptController(Protocol):
    """The CPU side of an interrupt controller (the 8259A pair's INTR and INTA)."""

    def pending(self) -> bool:
        """Whether INTR is asserted."""
        ...

    def acknowledge(self) -> int:
        """The INTA cycle: the vector to deliver."""
        ...


class IrqSource:
    """Timer devices, level-polled devices and the interrupt controller, seen from the CPU."""

    def __init__(
        self,
        clock: Clock,
        controller: InterruptController,
        timers: Sequence[TimerDevice],
        lines: Sequence[Callable[[], None]] = (),
    ) -> None:
        self.clock = clock
        self.controller = controller
        self.timers = tuple(timers)
        # Level-triggered device lines (the UART's): they can only change when the guest
        # touches a device, so they are re-read after port I/O, not at every safe point.
        self.lines = tuple(lines)
        self.pollers: tuple[Callable[[], None], ...] = ()
        self.nmi = NmiLine()  # the CPU's NMI input (the local APIC raises it)
        self._deadline: int | None = None
        self._stale = True  # a device may have been reprogrammed: ask for the deadline again
        self._lines_stale = True

    def add_poller(self, poller: Callable[[], None]) -> None:
        """Call `poller` at every safe point too (host input, a display)."""
        self.pollers = (*self.pollers, poller)

    def devices_changed(self) -> None:
        """The guest touched a device (port I/O): its next event and its lines may have moved."""
        self._stale = True
        self._lines_stale = True

    def next_deadline(self) -> int | None:
        """Guest time of the next timer event."""
        if self._stale:
            self._deadline = earliest_deadline(self.timers)
            self._stale = False
        return self._deadline

    def poll(self) -> None:
        """Raise whatever became due up to now: timer events and level-triggered lines."""
        deadline = self.next_deadline()
        if deadline is not None and self.clock.now_ns() >= deadline:
            now = self.clock.now_ns()
            for t in self.timers:
                t.tick(now)
            self._stale = True
        if self._lines_stale:
            self._lines_stale = False
            for line in self.lines:
                line()
        for p in self.pollers:
            p()

    def pending(self) -> bool:
        """Whether the controller asserts INTR (after `poll`)."""
        return self.controller.pending()

    def acknowledge(self) -> int:
        """The vector of the interrupt the CPU takes now."""
        vector = self.controller.acknowledge()
        self._stale = True
        self._lines_stale = True
        return vector
