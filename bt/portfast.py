"""PortFastPath: what the native port hook may answer, and what its answers mean for the machine.

The hook (bt/nativeio.py) buffers COM1 THR and 0xE9 bytes and answers COM1 LSR reads while
the monitor says those ports are plain. This object says so (from the UART's `plain_lsr`,
republished whenever the UART tells of a change and before every `emu_start`), and takes the
hook's work back whenever Python is entered, before anything there can be observed:

- the buffered bytes go to the device's sink (`transmitted`), so output keeps its order with
  everything the monitor prints or does later;
- each answered access counts as the monitor entry it replaces: virtual time moves by the
  same 1 us per access a callout adds, so a guest sees the same time as with every access a
  callout, and the run stays deterministic;
- the hook may answer only as many accesses as fit before the next timer event (`budget`):
  the access at which a callout would have seen the event due reaches the monitor as a
  callout, which delivers the interrupt at exactly the boundary it did before.

With the host clock (`--realtime`) time is not counted in accesses; the budget is then a fixed
number of accesses, so timers and host input are still looked at every few thousand bytes.
Tracing (`--trace` records every port access) leaves the fast path off.
"""

from __future__ import annotations

from bt.devices.debugcon import DebugCon
from bt.devices.uart16550 import Uart16550
from bt.irq import IrqSource
from bt.nativeio import FAST_VECTORS, OWNER_COM1, UNLIMITED, NativePortIO
from bt.timebase import VirtualClock

REALTIME_BUDGET = 4096


class PortFastPath:
    """Publishes COM1's and the debug console's plain state to the native hook and takes its
    buffered bytes and answered accesses back to the devices and virtual time."""

    def __init__(
        self,
        native: NativePortIO,
        uart: Uart16550,
        debugcon: DebugCon,
        access_ns: int,
        clock: VirtualClock | None,
        irq: IrqSource | None,
        enabled: bool = True,
    ) -> None:
        self._native = native
        self._uart = uart
        self._debugcon = debugcon
        self._access_ns = access_ns
        self.enabled = enabled and native.native
        self.clock = clock  # virtual time; None with the host clock
        self.irq = irq
        self._took = False  # the hook answered accesses since the last resume()
        self._cold = True  # the budget is 0 because none were
        if self.enabled:
            uart.on_change = self.publish
        self.publish()

    def disable(self) -> None:
        """Every port access a callout from now on (as before the fast path existed)."""
        self.enabled = False
        self._uart.on_change = None
        self.publish()

    def publish(self) -> None:
        """Tell the hook which ports are plain now."""
        if self.enabled:
            self._native.publish(self._uart.plain_lsr(), True)
        else:
            self._native.publish(None, False)

    def take_back(self) -> None:
        """Python was entered after the hook answered accesses: send their bytes on and move
        virtual time by the monitor entries they replaced."""
        owner, data, count = self._native.take()
        if data:
            if owner == OWNER_COM1:
                self._uart.transmitted(data)
            else:
                self._debugcon.transmitted(data)
        if count:
            self._took = True
            if self.clock is not None:
                self.clock.advance(count * self._access_ns)

    def resume(self, vector: int) -> None:
        """Translated code runs on after the callout on `vector` (-1: from a new emu_start):
        set the budget of accesses up to the next timer event. While no access is answered
        natively (none since the last callout, and this one was no fast form) the budget is
        left at 0 instead: the next fast access comes to Python, which then looks again, and
        callouts of guests that print nothing pay for no budget."""
        if not self.enabled:
            return
        if vector < 0:
            self.publish()
        elif not self._took and vector not in FAST_VECTORS:
            if not self._cold:
                self._cold = True
                self._native.set_budget(0)
            return
        self._took = self._cold = False
        self._native.set_budget(self.budget())

    def budget(self) -> int:
        """Accesses the hook may answer before the one at which a callout would find the next
        timer event due (each callout adds `access_ns` first, then looks)."""
        if self.clock is None:
            return REALTIME_BUDGET
        deadline = self.irq.next_deadline() if self.irq is not None else None
        if deadline is None:
            return UNLIMITED
        # The k-th access from now is the first with now + k * step >= deadline.
        k = -(-(deadline - self.clock.now_ns()) // self._access_ns)
        return max(k - 1, 0)

    @property
    def answered(self) -> int:
        """Accesses the hook answered without Python, in all."""
        return self._native.answered
