"""KeyPolicy: the TBKey a translation for the vCPU's current state gets, and what it assumes."""

from __future__ import annotations

from bt.cache.block import STEP_BIT, STEP_UNBAKED, TBKey
from bt.callouts.context import CalloutContext
from bt.descriptors import fetch_descriptor, is_null
from bt.irq import IrqSource
from bt.translator.bake import (
    NATIVE_BITS,
    NO_VARIANT,
    Bake,
    pack_native,
    pack_variant,
    table_value,
)
from bt.translator.csaccess import cs_flat
from bt.translator.insn import GuestAddr
from bt.vcpu import AC, CR0_PE, ID, IF, NT, TF, VIF, VIP, VM, Vcpu

# Virtual EFLAGS bits the real CPU does not hold: while one is set, CLI/STI/PUSHF/POPF call
# the monitor.
_UNBAKED_FLAGS = TF | NT | AC | ID | VM | VIF | VIP
_ACCESSED = 0x100  # the type field's A bit, in a segment cache's flags


class KeyPolicy:
    """Decides what shapes a translation: mode, CS base and the virtual state built in."""

    def __init__(
        self, vcpu: Vcpu, ctx: CalloutContext, irq: IrqSource | None, bake: bool = True
    ) -> None:
        self.vcpu = vcpu
        self.ctx = ctx
        self.irq = irq
        self.bake = bake  # build virtual state into translations (off: every one calls out)
        # One guest instruction a block, chained as usual: while data breakpoints are enabled
        # every instruction boundary starts a Unicorn block (bt/watchpoints.py).
        self.one_insn = False
        # Real mode: loads of DS/ES/FS/GS run natively where the real CPU can (off: callouts).
        self.native_segments = True

    def key(self, eip: int, max_insns: int = 64) -> TBKey:
        """The key of the block at guest `eip` in the current code segment."""
        cs = self.vcpu.segs["cs"]
        mode = self.mode()
        variant = self.variant() if self.bake else NO_VARIANT
        if self.one_insn:
            max_insns = 1
        if self.vcpu.eflags_sys & TF:
            # Single-stepping: one instruction a block, the trap after it (cache/block.py).
            max_insns = 1
            variant = variant | STEP_BIT if variant >= 0 else STEP_UNBAKED
        mmu = self.ctx.mem.mmu
        if mmu is not None and mmu.enabled:
            # Under guest paging a block is the code of one physical page at one linear
            # address: found again only while the linear page maps there (raises PageFault
            # when the fetch itself faults).
            phys = mmu.code_page((cs.base + eip) & 0xFFFFFFFF)
            return TBKey(GuestAddr(eip), cs.base, mode, max_insns, variant, phys)
        return TBKey(GuestAddr(eip), cs.base, mode, max_insns, variant)

    def mode(self) -> str:
        """The CPU mode the vCPU decodes in now (a key of cache.block.MODES)."""
        v = self.vcpu
        if not v.cr0 & CR0_PE:
            return "real32" if v.segs["cs"].big else "real"
        if v.eflags_sys & VM:
            return "v86"
        return "pm32" if v.segs["cs"].big else "pm16"

    def variant(self) -> int:
        """The virtual state translations for the current vCPU may build in (bake.py).

        IF 0 -> 1 changes must reach the monitor (`trap_if`) while an interrupt waits for IF.
        With nothing pending, STI and POPF run inline: nothing can become pending before the
        monitor runs again (a callout, the backstop), and then it looks again."""
        v = self.vcpu
        sysf = v.eflags_sys
        cs = v.segs["cs"]
        cpl = v.cpl
        iopl = (sysf >> 12) & 3
        irq = self.irq
        trap = irq is not None and not sysf & IF and irq.pending()
        packed = pack_variant(
            cpl <= iopl and not sysf & _UNBAKED_FLAGS,
            iopl,
            cpl == 0,
            trap,
            cs.selector,
            cs_flat(cs.limit, cs.flags) or v.real_segments and cs.limit >= 0xFFFF,
            v.segs["ss"].selector,
            stack32=v.segs["ss"].big,
        )
        if v.real_segments and self.native_segments:
            segs = self.ctx.engine.segments
            if segs.real:
                packed |= pack_native(n for n in NATIVE_BITS if n not in segs.shadowed)
        return packed | STEP_BIT if sysf & TF else packed

    def bake_for(self, key: TBKey) -> Bake | None:
        """What a translation for `key` may build in (None: nothing)."""
        if key.variant < 0:
            return None
        v = self.vcpu
        return Bake.unpack(key.variant, v.cr0, v.gdtr, v.idtr, self.cs_reload())

    def assumed(self) -> dict[str, int]:
        """The current values of the state translations record as assumptions."""
        v = self.vcpu
        return {
            "cr0": v.cr0,
            "gdtr": table_value(v.gdtr),
            "idtr": table_value(v.idtr),
            "csdesc": self.cs_reload(),
        }

    def system_state(self) -> tuple[object, ...]:
        """The state whose change makes the monitor re-check every assumption."""
        v = self.vcpu
        return (v.cr0, v.gdtr, v.idtr, v.ldtr)

    def cs_reload(self) -> int:
        """The descriptor (its 8 bytes as one int) that a far transfer to the current CS
        selector would load, if loading it gives the current CS again: same base, limit and
        attributes but for the accessed bit, which no guest instruction reads from a segment
        register (and which QEMU does not write on far transfers). -1 if not."""
        cs = self.vcpu.segs["cs"]
        if is_null(cs.selector):
            return -1
        desc = fetch_descriptor(_Peek(self.ctx), cs.selector)
        if desc is None or not desc.is_code or not desc.present:
            return -1
        if (desc.base, desc.limit, desc.attr | _ACCESSED) != (
            cs.base,
            cs.limit,
            cs.flags | _ACCESSED,
        ):
            return -1
        return desc.raw


class _Peek:
    """The descriptor tables as the monitor looks at them for itself: no accessed bits set
    in the guest's page tables, no page fault (an unmapped table reads as zeros)."""

    def __init__(self, ctx: CalloutContext) -> None:
        self.gdt_base, self.gdt_limit = ctx.gdt_base, ctx.gdt_limit
        self.ldt_base, self.ldt_limit = ctx.ldt_base, ctx.ldt_limit
        self._mem = ctx.mem

    def read(self, linear_addr: int, size: int) -> bytes:
        """Bytes of a table, as they are."""
        return self._mem.peek(linear_addr, size)
