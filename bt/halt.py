"""HaltWait: HLT, and the virtual-time skip to the next timer event that ends it."""

from __future__ import annotations

import time
from collections.abc import Callable

from bt.exits import ExtInt
from bt.interrupts import InterruptPolicy
from bt.irq import IrqSource
from bt.limits import Limits
from bt.runresult import EXIT_HALT, RunResult
from bt.timebase import VirtualClock
from bt.vcpu import Vcpu

# Events that may pass with nothing unmasked before a halt is given up (PIT OUT edges).
_MAX_SKIPS = 64
_HOST_WAIT = 0.05  # seconds slept at most per turn while the clock is the host's


class HaltWait:
    """The vCPU sleeps until an interrupt: time moves to the next timer event (virtual time),
    or passes on the host clock (--realtime), or waits for host input (the keyboard)."""

    def __init__(
        self,
        vcpu: Vcpu,
        irq: IrqSource | None,
        interrupts: InterruptPolicy | None,
        clock: VirtualClock | None,
        limits: Limits,
        realtime: bool = False,
    ) -> None:
        self.vcpu = vcpu
        self.irq = irq
        self.interrupts = interrupts
        self.clock = clock
        self.limits = limits
        self.realtime = realtime
        # Called while the guest halts with nothing scheduled: True if it produced input
        # (keys typed on the host terminal) that may wake the guest.
        self.wait_for_input: Callable[[float], bool] | None = None

    def skip(self, eip: int) -> ExtInt | None:
        """In virtual time: the interrupt that ends a halt at `eip` once time reaches the next
        timer events (None when no timer is armed, or with a host clock)."""
        if (
            self.clock is None
            or self.irq is None
            or self.interrupts is None
            or not self.vcpu.interrupts_enabled
        ):
            return None
        for _ in range(_MAX_SKIPS):
            ext = self.interrupts.at(eip)
            if ext is not None:
                return ext
            deadline = self.irq.next_deadline()
            if deadline is None:
                return None
            self.clock.advance_to(deadline)
        return None

    def wait(self, eip: int) -> ExtInt | RunResult:
        """HLT at `eip`: the interrupt that wakes the guest, or how the run ends."""
        vcpu = self.vcpu
        vcpu.halted = True
        if not vcpu.interrupts_enabled:
            return RunResult("halt", EXIT_HALT, "guest halted with interrupts disabled", eip)
        irq, interrupts = self.irq, self.interrupts
        while irq is not None and interrupts is not None:
            ext = interrupts.at(eip)
            if ext is not None:
                return ext
            why = self.limits.reached()
            if why is not None:
                return RunResult(self.limits.kind(), self.limits.status(), why, eip)
            deadline = irq.next_deadline()
            if self.realtime:
                wait = _HOST_WAIT
                if deadline is not None:
                    wait = min(wait, max(0.0, (deadline - irq.clock.now_ns()) / 1e9))
                if self.wait_for_input is None or not self.wait_for_input(wait):
                    time.sleep(wait)
                continue
            if deadline is None:
                if self.wait_for_input is not None and self.wait_for_input(_HOST_WAIT):
                    continue
                break
            assert self.clock is not None
            self.clock.advance_to(deadline)
        return RunResult(
            "halt",
            EXIT_HALT,
            "guest halted with interrupts enabled and nothing "
            "that could wake it (no timer armed, no input)",
            eip,
        )
