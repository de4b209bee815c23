"""The real x87/SSE unit as the guest must see it: FIP/FCS/FDP/FDS, CR4's FXSR/XSAVE bits, MXCSR.

Every x87 instruction that is not a control instruction makes the real CPU record where it was
(FIP, FCS) and, with a memory operand, what it addressed (FDP, FDS): as Unicorn runs the
translation, FIP is a translation-cache address, FCS the monitor's code selector and FDS a
shadow selector (bt/engine.py). QEMU 7.2 records the guest's EIP, its CS selector and the
selector of the operand's segment, all as they are when the instruction runs; FDP is the
operand's offset on both. FLDENV, FRSTOR and FXRSTOR load none of them (measured on QEMU and
Unicorn: guests/fpu.asm), so the real registers only ever hold what the CPU itself recorded or
what the monitor wrote there.

`FpuPointers` keeps the arithmetic copied (no monitor entry per x87 instruction): the guest
values are made only when something can see them or something they depend on changes, by
`freeze`, which writes them into the real registers. It runs before every save instruction
(FNSTENV, FNSAVE: bt/callouts/fpu.py), before every segment register load (the selectors
change), and before the translation cache retires a block or flushes (its code space may be
reused at once, and FIP would then name other code).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from unicorn import x86_const as R

from bt.engine import Engine
from bt.layout import TC_LINEAR, TC_SIZE
from bt.realsegments import SEL_CODE, SHADOW_SEL
from bt.regfile import RegisterFile
from bt.translator.insn import GuestInsn
from bt.vcpu import Vcpu

# Real selector -> the guest segment register it stands for.
_REAL_SEG = {sel: name for name, sel in SHADOW_SEL.items()} | {SEL_CODE: "cs"}
_POINTERS = (R.UC_X86_REG_FIP, R.UC_X86_REG_FCS, R.UC_X86_REG_FDP, R.UC_X86_REG_FDS)

CR4_OSFXSR, CR4_OSXMMEXCPT = 1 << 9, 1 << 10
# What QEMU's reset (FNINIT state) and SeaBIOS leave at a kernel's entry; Unicorn starts with
# MXCSR 0, FCW 0 and every tag "zero".
MXCSR_RESET = 0x1F80
FPCW_RESET = 0x037F
FPTAG_EMPTY = 0xFFFF


CR0_MP, CR0_EM, CR0_TS, CR0_NE = 1 << 1, 1 << 2, 1 << 3, 1 << 5
CR0_FPU = CR0_MP | CR0_EM | CR0_TS | CR0_NE


def sync_control(engine: Engine, vcpu: Vcpu) -> None:
    """Give the real CR0 the guest's MP, EM, TS and NE, and the real CR4 `real_cr4`: then the
    copied x87/SSE instructions raise #NM, #UD and #MF where QEMU's do (the monitor delivers
    them through the guest's IDT) and nothing else of CR0 changes. Run after the guest's CR0
    or CR4 changes."""
    real = engine.read_reg(R.UC_X86_REG_CR0)
    want = real & ~CR0_FPU | vcpu.cr0 & CR0_FPU
    if want != real:
        engine.write_reg(R.UC_X86_REG_CR0, want)
    engine.write_reg(R.UC_X86_REG_CR4, real_cr4(vcpu.cr4) | engine.mode.paging_cr4)


def real_cr4(guest_cr4: int) -> int:
    """The real CR4 for a guest CR4: only the bits that change how copied FXSAVE, FXRSTOR and
    SSE instructions behave follow the guest (without OSFXSR, FXSAVE leaves MXCSR and the XMM
    registers unsaved and SSE instructions raise #UD, as on QEMU). Unicorn starts with
    OSXSAVE set; qemu32 has no XSAVE, so it stays clear and XSAVE/XRSTOR raise #UD."""
    return guest_cr4 & (CR4_OSFXSR | CR4_OSXMMEXCPT)


Pointers = tuple[int, int, int, int]  # FIP, FCS, FDP, FDS


class FpuPointers:
    """Turns the real x87 last-instruction and last-operand pointers into the guest's."""

    def __init__(self, engine: Engine, vcpu: Vcpu, locate: Callable[[int], int | None]) -> None:
        self._file = RegisterFile(engine.uc, _POINTERS)
        self._vcpu = vcpu
        self._locate = locate  # translation-cache address -> guest EIP of its instruction
        self._frozen: Pointers | None = None  # what the last freeze left in the real registers
        self.freezes = 0
        # Off until a translation holds an x87 instruction: before that the real pointers
        # can only hold the reset zeros, and a freeze (a register read, 3-8 us) is skipped.
        self.armed = False

    def note_block(self, insns: Iterable[GuestInsn]) -> None:
        """Told of every new translation: arms the freeze at the first x87 instruction."""
        if not self.armed and any(i.mnemonic.split(" ")[-1][:1] == "f" for i in insns):
            self.armed = True

    def guest_view(self, real: Pointers) -> Pointers:
        """What the guest sees for the real pointers `real`, given the current guest segment
        registers (valid because `freeze` runs before any of them changes)."""
        fip, fcs, fdp, fds = real
        f = self._frozen
        if f is not None and (fip, fcs) == f[:2]:
            return real  # no x87 instruction since the last freeze: guest values already
        if not (TC_LINEAR <= fip < TC_LINEAR + TC_SIZE and fcs == SEL_CODE):
            return real  # FNINIT's zeros
        segs = self._vcpu.segs
        eip = self._locate(fip)
        guest_fip = eip if eip is not None else 0
        if f is not None and (fdp, fds) == f[2:]:
            guest_fds = fds  # the instruction had no memory operand: FDP/FDS are the frozen ones
        else:
            name = _REAL_SEG.get(fds)
            guest_fds = segs[name].selector if name is not None else fds
        return guest_fip, segs["cs"].selector, fdp, guest_fds

    def retiring(self, tb: object) -> None:
        """The cache retires a block (its code space may be reused next): freeze first."""
        self.freeze()

    def freeze(self) -> None:
        """Put the guest's values in the real registers, so that later changes to the guest's
        selectors or to the translation cache cannot alter what a save shows."""
        if not self.armed:
            return
        real = tuple(self._file.read())
        assert len(real) == 4
        view = self.guest_view(real)
        if view != real:
            self._file.write(list(view))
            self.freezes += 1
        self._frozen = view
