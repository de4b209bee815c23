"""EventDelivery: interrupts and exceptions into the guest, escalated as a CPU does (#DF, triple
fault), counted by vector."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from bt.callouts.context import CalloutContext
from bt.delivery import deliver, merge
from bt.exits import ERROR_CODE_VECTORS, ExtInt, Fault, SoftInt, Unsupported, VcpuExit
from bt.runresult import REAL_MODE_VECTOR, vector_name
from bt.vcpu import Vcpu

# Told of every delivery: (vector, error code or None, guest EIP) - the tracer listens.
DeliveryListener = Callable[[int, int | None, int], None]


class EventDelivery:
    """Delivers one event through the guest's IDT and whatever faults that delivery raises."""

    def __init__(self, ctx: CalloutContext, vcpu: Vcpu, vectors: Counter[int]) -> None:
        self.ctx = ctx
        self.vcpu = vcpu
        self.vectors = vectors
        self.on_deliver: DeliveryListener | None = None
        # The state translations build in, and what to call when a delivery changed it (a
        # task gate's switch sets CR0.TS and loads LDTR): bt/hookexit.py sets it.
        self.system_watch: tuple[Callable[[], tuple[object, ...]], Callable[[], None]] | None = None

    def _key(self, vector: int) -> int:
        """The counter's key: real-mode deliveries (through the IVT) apart from the exceptions
        of protected mode (IRQ 0 is vector 8 under a BIOS, INT 10h is vector 16)."""
        return vector | REAL_MODE_VECTOR if self.vcpu.real_mode else vector

    def _told(self, vector: int, code: int | None, eip: int) -> None:
        self.vectors[self._key(vector)] += 1
        if self.on_deliver is not None:
            self.on_deliver(vector, code, eip)

    def deliver(self, event: Fault | SoftInt | ExtInt) -> VcpuExit:
        """Enter the guest's handler for `event`: a Goto to it, or Unsupported (triple fault)."""
        ctx = self.ctx
        ctx.begin()
        watch = self.system_watch
        before = None if watch is None else watch[0]()
        try:
            if isinstance(event, ExtInt):
                self.vcpu.halted = False
                self._told(event.vector, None, event.eip)
                got = deliver(ctx, event.vector, None, event.eip, False, False)
                if not isinstance(got, Fault):
                    return got
                # A fault while taking an external interrupt is delivered as a first fault.
                current, fault = -1, got
            elif isinstance(event, SoftInt):
                self._told(event.vector, None, event.eip)
                got = deliver(
                    ctx, event.vector, None, event.next_eip, True, event.check_dpl, event.eip
                )
                if not isinstance(got, Fault):
                    return got
                current, fault = event.vector, got
            else:
                current, fault = -1, event
            return self._fault_chain(current, fault)
        finally:
            ctx.commit()
            if ctx.mem.mmu is not None:
                ctx.mem.mmu.sync_privilege()  # the handler may run at another CPL
            if watch is not None and watch[0]() != before:
                watch[1]()

    def _fault_chain(self, current: int, fault: Fault) -> VcpuExit:
        """Deliver `fault` raised while delivering `current` (-1: none), merging into #DF and
        ending in a triple fault as the SDM's table 6-5 says."""
        ctx = self.ctx
        while True:
            # Counted as raised (a fault that escalates to #DF counts under its own vector).
            self.vectors[self._key(fault.vector)] += 1
            if current >= 0:
                nxt = merge(current, fault.vector)
                if nxt is None:
                    return Unsupported(
                        f"triple fault ({vector_name(fault.vector)} while delivering #DF)",
                        fault.eip,
                    )
                if nxt == 8:
                    fault = Fault(8, 0, fault.eip)
            code = fault.error_code
            if fault.vector in ERROR_CODE_VECTORS and code is None:
                code = 0
            if self.on_deliver is not None:
                self.on_deliver(fault.vector, code, fault.eip)
            got = deliver(ctx, fault.vector, code, fault.eip, False, False)
            if not isinstance(got, Fault):
                return got
            current, fault = fault.vector, got
