"""InterruptPolicy: whether the guest takes an external interrupt before a given instruction."""

from __future__ import annotations

from bt.exits import ExtInt
from bt.irq import IrqSource
from bt.shadow import InterruptShadow
from bt.vcpu import Vcpu

NMI_VECTOR = 2


class InterruptPolicy:
    """Asked at the monitor's safe points only (callouts, unchained exits, HLT, the backstop):
    never between guest instructions of translated code."""

    def __init__(self, vcpu: Vcpu, irq: IrqSource, shadow: InterruptShadow) -> None:
        self.vcpu = vcpu
        self.irq = irq
        self.shadow = shadow

    def at(self, eip: int) -> ExtInt | None:
        """The external interrupt the guest takes before the instruction at `eip`, if any
        (devices brought up to date first; IF and the STI/MOV SS shadow respected)."""
        irq = self.irq
        irq.poll()
        nmi = irq.nmi.ready()  # not masked by IF
        if not (nmi or self.vcpu.interrupts_enabled) or self.shadow.holds(eip):
            return None
        if nmi and irq.nmi.take():
            return ExtInt(NMI_VECTOR, eip)
        if not self.vcpu.interrupts_enabled or not irq.pending():
            return None
        return ExtInt(irq.acknowledge(), eip)

    def waits_for_shadow(self, eip: int) -> bool:
        """Whether an interrupt waits only for the STI/MOV SS shadow at `eip` to end."""
        waiting = self.irq.nmi.ready() or self.vcpu.interrupts_enabled and self.irq.pending()
        return waiting and self.shadow.covers(eip)

    def due_inside(self) -> bool:
        """Devices brought up to date: whether an interrupt is due with IF set (execution
        stands inside one instruction's translation, so it waits for the next boundary)."""
        self.irq.poll()
        return self.irq.nmi.ready() or self.vcpu.interrupts_enabled and self.irq.pending()

    def pending_while_masked(self) -> bool:
        """Whether an interrupt waits for the guest to set IF."""
        return not self.vcpu.interrupts_enabled and self.irq.pending()
