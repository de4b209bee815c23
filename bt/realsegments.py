"""RealSegments: the monitor's real GDT and the segment registers translated code runs with.

Translated code runs at real CPL 0 on SEL_CODE; each guest data segment register has a real
counterpart (SHADOW_SEL) whose descriptor the monitor rewrites when the guest loads the
register, so copied instructions address what the guest's would. The real GDT lives on the
monitor's page, visible only while the monitor loads a segment register itself (monitor mode;
Unicorn's TLB is flushed after, since translated code runs at the same real CPL).

While the guest is in real mode, so is the real CPU (CR0.PE clear; CS keeps the monitor's
32-bit code descriptor, DESIGN fact 19): the guest's MOV, POP and LxS to DS, ES, FS and GS
then run as they are, base = selector * 16, and the monitor reads the selectors back when it
is entered (`sync`). A register whose guest cache is not selector * 16 (left by the guest's
own PE toggling: unreal segments) holds a monitor descriptor instead ("shadowed"), and its
loads stay callouts until one gives it a real-mode value (bt/keypolicy.py).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Protocol

from unicorn import Uc
from unicorn import x86_const as R
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH

from bt.errors import InternalError
from bt.guestview import GuestView
from bt.layout import MON_LINEAR, MON_PHYS
from bt.regfile import RegisterFile

# Real GDT selectors (the monitor's; the guest never sees them). Translated code runs with
# SEL_CODE (CPL 0); the stack segment is DPL 0 as CPL 0 requires, the data segments DPL 3.
SEL_CODE = 0x08
SHADOW_SEL = {"es": 0x20 | 3, "ss": 0x28, "ds": 0x30 | 3, "fs": 0x38 | 3, "gs": 0x40 | 3}
GDT_LIMIT = 0x47
SEG_REG = {
    "es": R.UC_X86_REG_ES,
    "ss": R.UC_X86_REG_SS,
    "ds": R.UC_X86_REG_DS,
    "fs": R.UC_X86_REG_FS,
    "gs": R.UC_X86_REG_GS,
}
NATIVE_SEGS = ("es", "ds", "fs", "gs")  # loaded natively in real mode (SS stays a callout)
_BIG = 0x400000  # the B bit, in a segment cache's flags
_PE = 1


class GuestSegment(Protocol):
    """A guest segment register's selector and cache (bt.vcpu.SegmentCache)."""

    selector: int
    base: int
    limit: int
    flags: int


def real_mode_value(name: str, seg: GuestSegment) -> bool:
    """Whether a real-mode segment load gives the guest's cache (base = selector * 16; and
    for SS a 16-bit stack, which such a load gives)."""
    return seg.base == seg.selector << 4 and not (name == "ss" and seg.flags & _BIG)


def descriptor(base: int, limit: int, access: int, flags: int = 0xC) -> bytes:
    """An 8-byte segment descriptor (limit in bytes, or in pages when flags has G)."""
    if flags & 0x8:
        limit >>= 12
    lo = (limit & 0xFFFF) | ((base & 0xFFFF) << 16)
    hi = ((base >> 16) & 0xFF) | (access << 8) | (((limit >> 16) & 0xF) << 16)
    hi |= (flags & 0xF) << 20 | (base & 0xFF000000)
    return struct.pack("<II", lo, hi)


class RealSegments:
    """The real GDT, and loading the real segment registers from it."""

    def __init__(self, uc: Uc, view: GuestView, monitor_page: Callable[[bool], None]) -> None:
        self.uc = uc
        self.view = view
        self.monitor_page = monitor_page  # shows the page to Unicorn's own walker too
        gdt = bytearray(GDT_LIMIT + 1)
        gdt[0x08:0x10] = descriptor(0, 0xFFFFFFFF, 0x9B)  # CPL 0 code: runs translated code
        for name, sel in SHADOW_SEL.items():
            access = 0x93 if name == "ss" else 0xF3
            gdt[sel & ~7 : (sel & ~7) + 8] = descriptor(0, 0xFFFFFFFF, access)
        uc.mem_write(MON_PHYS, bytes(gdt))
        uc.reg_write(R.UC_X86_REG_GDTR, (0, MON_LINEAR, GDT_LIMIT, 0))
        self.real = False  # the real CPU is in real mode (the guest's is)
        # The real selector the monitor last left in each register, and the registers that
        # hold a monitor descriptor rather than a real-mode value (meaningful in real mode).
        self.left: dict[str, int] = dict(SHADOW_SEL)
        self.shadowed: set[str] = set(NATIVE_SEGS)
        self._selectors = RegisterFile(uc, tuple(SEG_REG[n] for n in NATIVE_SEGS))
        self.on_native_load: Callable[[str, int], None] | None = None  # (register, selector)

    def start(self, esp: int) -> None:
        """Put the real CPU on the monitor's flat segments at CPL 0 with the guest's ESP."""
        uc = self.uc
        self._begin()
        try:
            uc.reg_write(R.UC_X86_REG_CS, SEL_CODE)
            for name, reg in SEG_REG.items():
                uc.reg_write(reg, SHADOW_SEL[name])
        finally:
            self._end()
        uc.reg_write(R.UC_X86_REG_ESP, esp)
        cs = uc.reg_read(R.UC_X86_REG_CS)
        if cs != SEL_CODE:
            raise InternalError(f"real CPU did not take the monitor's CS (CS={cs:#x})")

    def load(
        self, name: str, base: int, limit: int, flags: int, null: bool, selector: int = -1
    ) -> None:
        """Make the real segment register `name` address what the guest's does (`selector`:
        the guest's, which in real mode is loaded as it is when base = selector * 16)."""
        if self.real and base == selector << 4 and not (name == "ss" and flags & _BIG):
            self.uc.reg_write(SEG_REG[name], selector)  # real mode: base = selector * 16
            self.left[name] = selector
            self.shadowed.discard(name)
            return
        sel = SHADOW_SEL[name]
        if null:
            # A null guest selector: the real register gets a usable flat segment instead,
            # since QEMU does not check null segments on data accesses either.
            base, limit, flags = 0, 0xFFFFFFFF, 0x00CF9300
        # Real descriptors are data segments (DPL 0 for SS, which CPL 0 requires); reads through
        # a code segment and expand-down limits need no real counterpart (QEMU checks no limits).
        access = 0x93 if name == "ss" else (0xF3 if not flags & 0x800 else 0xF1)
        # The B bit is the guest's: it is the stack size (SP or ESP) of a stack segment.
        big = 0x4 if flags & 0x400000 else 0
        desc = descriptor(base, limit, access, flags=big | (0x8 if limit > 0xFFFFF else 0))
        self.uc.mem_write(MON_PHYS + (sel & ~7), desc)
        self._begin()
        try:
            if self.real:  # descriptors exist only in protected mode: there for one load
                cr0 = self.uc.reg_read(R.UC_X86_REG_CR0)
                self.uc.reg_write(R.UC_X86_REG_CR0, cr0 | _PE)
                self.uc.reg_write(SEG_REG[name], sel)
                self.uc.reg_write(R.UC_X86_REG_CR0, cr0)
            else:
                self.uc.reg_write(SEG_REG[name], sel)
        finally:
            self._end()
        self.left[name] = sel
        self.shadowed.add(name)

    def set_real(self, on: bool, segs: Mapping[str, GuestSegment]) -> None:
        """Put the real CPU into real mode with the guest (`on`) or back into protected mode.
        The registers keep their caches; in real mode those whose guest value is a real-mode
        one are loaded as such, so that the guest's own loads of them can run natively."""
        if on == self.real:
            return
        uc = self.uc
        cr0 = uc.reg_read(R.UC_X86_REG_CR0)
        uc.reg_write(R.UC_X86_REG_CR0, cr0 & ~_PE if on else cr0 | _PE)
        self.real = on
        if not on:
            self.shadowed = set(NATIVE_SEGS)  # every later load is a monitor descriptor's
            return
        for name in NATIVE_SEGS:
            seg = segs[name]
            if real_mode_value(name, seg):
                uc.reg_write(SEG_REG[name], seg.selector)
                self.left[name] = seg.selector
                self.shadowed.discard(name)
            else:
                self.shadowed.add(name)
        self.view.flush_tlb()

    def sync(self) -> None:
        """In real mode: report the guest's own loads of DS, ES, FS, GS since the monitor
        last looked (`on_native_load`), from the real selectors."""
        if not self.real:
            return
        left = self.left
        for name, sel in zip(NATIVE_SEGS, self._selectors.read(), strict=True):
            if sel != left[name]:
                left[name] = sel
                if self.on_native_load is not None:
                    self.on_native_load(name, sel)

    def _begin(self) -> None:
        """The monitor loads a segment register itself: its page (the real GDT) is visible."""
        self.view.monitor_mode = True
        self.monitor_page(True)

    def _end(self) -> None:
        """The monitor's own load is over: the entries it filled for the real GDT go."""
        self.view.monitor_mode = False
        self.monitor_page(False)
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)
