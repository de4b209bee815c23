"""InterruptShadow: the STI / MOV SS shadow, which holds interrupts back for one instruction."""

from __future__ import annotations

import bisect

from bt.cache.block import TranslationBlock
from bt.runstate import RunState
from bt.translator.records import CalloutSite, Rule
from bt.types import CodeAddr
from bt.vcpu import Vcpu


class InterruptShadow:
    """Where the shadow set by the last STI or MOV/POP SS stands, and when it is over."""

    def __init__(self, vcpu: Vcpu, state: RunState) -> None:
        self.vcpu = vcpu
        self.state = state

    def holds(self, eip: int) -> bool:
        """Whether the shadow holds interrupts back before the instruction at `eip`; a shadow
        that does not cover `eip` is over and forgotten."""
        v = self.vcpu
        if v.shadow_eip is None:
            return False
        if v.shadow_eip == eip:
            return True
        v.shadow_eip = None
        return False

    def covers(self, eip: int) -> bool:
        """Whether the instruction at `eip` is the one under the shadow."""
        return self.vcpu.shadow_eip == eip

    def instruction_ran(self) -> None:
        """An instruction ran since any earlier STI/MOV SS (a callout began): it is over."""
        self.vcpu.shadow_eip = None

    def note_begun(self) -> None:
        """After a callout: if it set a shadow, remember in which slice it began."""
        if self.vcpu.shadow_eip is not None:
            self.state.shadow_slice = self.state.counters.emu_starts

    def expire_stale(self) -> None:
        """A whole slice ran after the STI/MOV SS (`sti; jmp $`): its shadow is long over."""
        if self.state.shadow_slice != self.state.counters.emu_starts:
            self.vcpu.shadow_eip = None

    def over_callout(self, tb: TranslationBlock, site: CalloutSite) -> bool:
        """Whether the instruction a callout runs before (CALLOUT_THEN_COPY) is under a
        shadow: one the monitor set, or an STI that ran as it is just before it."""
        if self.vcpu.shadow_eip == site.insn.eip:
            return True
        k = next((i for i, r in enumerate(tb.insns) if r.insn is site.insn), 0)
        prev = tb.insns[k - 1].sensitivity if k > 0 else None
        return prev is not None and prev.rule is Rule.EMULATE and prev.kind == "sti"

    @staticmethod
    def after_native_sti(tb: TranslationBlock | None, code_addr: CodeAddr) -> bool:
        """Whether `code_addr` follows an STI that ran as it is (its shadow lasts)."""
        if tb is None:
            return False
        offs = [r.offset for r in tb.insns]
        i = bisect.bisect_left(offs, code_addr - tb.code_addr)
        if i == 0:
            return False
        prev = tb.insns[i - 1].sensitivity
        return prev.rule is Rule.EMULATE and prev.kind == "sti"
