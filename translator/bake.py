"""Bake: the virtual-CPU state a translation builds into its code instead of calling the monitor.

Part of it shapes the translation and is in the block's key (`variant`): whether CLI, STI, PUSHF
and POPF run inline, the virtual IOPL, whether an IF 0 -> 1 change must reach the monitor, the
CS and SS selectors. The rest (CR0, GDTR, IDTR, the descriptor a reload of CS would fetch)
changes rarely and through the monitor: a block that builds one of them in records it as an
assumption and is retired when it changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

NO_VARIANT = -1  # a key that bakes nothing: every sensitive instruction calls the monitor
NATIVE_BITS = {"es": 1, "ds": 2, "fs": 4, "gs": 8}
_NATIVE_SHIFT = 40  # above STEP_BIT (cache/block.py)
_STACK32_SHIFT = 44


@dataclass(frozen=True, slots=True)
class Bake:
    """What the rewriter may build into translated code."""

    flags: bool  # CLI/STI/PUSHF/POPF inline: CPL <= IOPL, virtual TF/NT/AC/ID/VM/VIF/VIP clear
    iopl: int  # the virtual IOPL (PUSHF shows it; the real one means nothing at real CPL 0)
    cpl0: bool  # POPF may change IOPL: a popped IOPL other than `iopl` goes to the monitor
    trap_if: bool  # an IF 0 -> 1 change (STI, POPF) must reach the monitor
    cs_sel: int
    cs_flat: bool  # CS is 4 GiB and readable: no limit check for a far RET or a CS read
    ss_sel: int
    cr0: int = 0
    gdtr: tuple[int, int] = (0, 0)
    idtr: tuple[int, int] = (0, 0)
    # The descriptor a far transfer to the CS selector would load, when it is exactly the
    # current CS (a same-CS far RET may then skip the reload); -1 when it is not.
    cs_desc: int = -1
    # Data segment registers whose loads (and reads) run natively: in real mode, where the
    # real CPU is in real mode too and the register holds a real-mode value (bit per
    # register, NATIVE_BITS).
    native_segs: int = 0
    stack32: bool = False  # SS's B bit: ESP is the stack pointer (else SP)

    def native(self, seg: str) -> bool:
        """Whether segment register `seg`'s loads and reads run as they are."""
        return bool(self.native_segs & NATIVE_BITS.get(seg, 0))

    @property
    def variant(self) -> int:
        """The key part of the bake, packed in one int."""
        return pack_variant(
            self.flags,
            self.iopl,
            self.cpl0,
            self.trap_if,
            self.cs_sel,
            self.cs_flat,
            self.ss_sel,
            self.native_segs,
            self.stack32,
        )

    @staticmethod
    def unpack(
        variant: int, cr0: int, gdtr: tuple[int, int], idtr: tuple[int, int], cs_desc: int = -1
    ) -> Bake:
        """The bake for a key's `variant` and the current CR0, GDTR, IDTR, CS descriptor."""
        return Bake(
            flags=bool(variant >> 32 & 1),
            iopl=variant >> 33 & 3,
            cpl0=bool(variant >> 35 & 1),
            trap_if=bool(variant >> 36 & 1),
            cs_sel=variant & 0xFFFF,
            cs_flat=bool(variant >> 37 & 1),
            ss_sel=variant >> 16 & 0xFFFF,
            cr0=cr0,
            gdtr=gdtr,
            idtr=idtr,
            cs_desc=cs_desc,
            native_segs=variant >> _NATIVE_SHIFT & 0xF,
            stack32=bool(variant >> _STACK32_SHIFT & 1),
        )


def pack_variant(
    flags: bool,
    iopl: int,
    cpl0: bool,
    trap_if: bool,
    cs_sel: int,
    cs_flat: bool,
    ss_sel: int,
    native_segs: int = 0,
    stack32: bool = False,
) -> int:
    """The key part of a bake as one int (the run loop makes it at every lookup)."""
    return (
        cs_sel
        | ss_sel << 16
        | flags << 32
        | iopl << 33
        | cpl0 << 35
        | trap_if << 36
        | cs_flat << 37
        | native_segs << _NATIVE_SHIFT
        | stack32 << _STACK32_SHIFT
    )


def pack_native(names: Iterable[str]) -> int:
    """The variant bits saying which data segment registers run natively."""
    bits = 0
    for name in names:
        bits |= NATIVE_BITS[name]
    return bits << _NATIVE_SHIFT


def trap_if_of(variant: int) -> bool:
    """Whether a key's translation sends IF 0 -> 1 changes to the monitor (True when nothing
    is baked: STI and POPF are callouts then)."""
    return variant < 0 or bool(variant >> 36 & 1) or not variant >> 32 & 1


def table_value(reg: tuple[int, int]) -> int:
    """A GDTR/IDTR as one assumption value."""
    return reg[0] << 16 | reg[1]
