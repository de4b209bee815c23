"""BlockFaults: the faults the monitor finds before a block runs (a fetch #PF, a breakpoint)."""

from __future__ import annotations

from bt.breakpoints import hit_dr6
from bt.errors import TranslationError
from bt.events import EventDelivery
from bt.exits import Fault, Goto, Unsupported
from bt.paging import PageFault
from bt.runstate import RunState
from bt.vcpu import RF, Vcpu


class BlockFaults:
    """What the block maker calls when the next block cannot start: each answers with the
    guest handler's EIP (a triple fault is a TranslationError, reported as a crash)."""

    def __init__(self, vcpu: Vcpu, state: RunState, events: EventDelivery) -> None:
        self.vcpu = vcpu
        self.state = state
        self.events = events

    def fetch_fault(self, fault: PageFault, eip: int) -> int:
        """A fetch at guest `eip` faulted under paging: #PF into the guest; its handler's EIP."""
        self.vcpu.cr2 = fault.linear
        return self._into_handler(Fault(14, fault.error_code, eip))

    def breakpoint(self, linear: int, eip: int) -> int | None:
        """The instruction at guest `eip` is an instruction breakpoint: #DB (a fault, DR6's
        B0-B3 set) unless EFLAGS.RF says it is to run once; the handler's EIP, or None."""
        v = self.vcpu
        if v.eflags_sys & RF:
            self.state.rf_at = eip  # RF stays set while the instruction runs, as on a PC
            return None
        v.dr[6] = hit_dr6(v.dr, linear)
        return self._into_handler(Fault(1, None, eip))

    def _into_handler(self, fault: Fault) -> int:
        got = self.events.deliver(fault)
        if isinstance(got, Goto):
            return got.eip
        raise TranslationError(got.what if isinstance(got, Unsupported) else f"delivery gave {got}")
