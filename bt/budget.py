"""BudgetStop: what the monitor does when the backstop's block budget ran out.

Translated code that runs without entering the monitor (chained loops, `sti; jmp $`) is stopped
at a block start after BACKSTOP_BLOCKS blocks (bt/backstop.py). There a pending interrupt is
taken if execution stands at a guest instruction boundary; a guest that ran the whole budget
without entering the monitor with interrupts enabled is taken to be waiting for one, so virtual
time moves to the next timer event.
"""

from __future__ import annotations

from bt.cache.cache import TranslationCache
from bt.events import EventDelivery
from bt.exits import Goto
from bt.hookexit import ExitDispatch
from bt.interrupts import InterruptPolicy
from bt.runresult import RunResult
from bt.runstate import RunState
from bt.shadow import InterruptShadow
from bt.timebase import VirtualClock
from bt.translator.bake import trap_if_of
from bt.types import CodeAddr
from bt.vcpu import Vcpu


class BudgetStop:
    """Handles one backstop stop at translation-cache address `code_addr`."""

    def __init__(
        self,
        vcpu: Vcpu,
        cache: TranslationCache,
        interrupts: InterruptPolicy,
        shadow: InterruptShadow,
        events: EventDelivery,
        dispatch: ExitDispatch,
        clock: VirtualClock | None,
        state: RunState,
    ) -> None:
        self.vcpu = vcpu
        self.cache = cache
        self.interrupts = interrupts
        self.shadow = shadow
        self.events = events
        self.dispatch = dispatch
        self.clock = clock
        self.state = state

    def stopped(self, code_addr: CodeAddr, idle: bool) -> CodeAddr | RunResult:
        """Where execution goes on. `idle`: no monitor entry during the whole budget. With IF
        clear time stays: a guest cannot be waiting for an interrupt then."""
        st = self.state
        st.deferred = False
        self.shadow.expire_stale()
        irq = self.interrupts.irq
        deadline = irq.next_deadline()
        if (
            idle
            and self.vcpu.interrupts_enabled
            and self.clock is not None
            and deadline is not None
        ):
            self.clock.advance_to(deadline)
        tb = self.cache.block_at(code_addr)
        eip = tb.guest_eip_starting_at(code_addr - tb.code_addr) if tb is not None else None
        if eip is None or self.shadow.after_native_sti(tb, code_addr):
            # Inside one instruction's translation, or under an STI's shadow: the next
            # block start will do.
            st.deferred = self.interrupts.due_inside()
            return code_addr
        assert tb is not None
        ext = self.interrupts.at(eip)
        if ext is None:
            if self.interrupts.pending_while_masked() and not trap_if_of(tb.key.variant):
                # Time moved while IF is clear: the code that sets IF must now tell the monitor.
                return self.dispatch.enter(Goto(eip))
            return code_addr
        st.eip = eip
        return self.dispatch.enter(self.events.deliver(ext))
