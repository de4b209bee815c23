"""RealSegments: the monitor's real GDT and the segment registers translated code runs with.

Translated code runs at real CPL 0 on SEL_CODE; each guest data segment register has a real
counterpart (SHADOW_SEL) whose descriptor the monitor rewrites when the guest loads the
register, so copied instructions address what the guest's would. The real GDT lives on the
monitor's page, visible only while the monitor loads a segment register itself (monitor mode;
Unicorn's TLB is flushed after, since translated code runs at the same real CPL).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from unicorn import Uc
from unicorn import x86_const as R
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH

from bt.errors import InternalError
from bt.guestview import GuestView
from bt.layout import MON_LINEAR, MON_PHYS

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

    def load(self, name: str, base: int, limit: int, flags: int, null: bool) -> None:
        """Make the real segment register `name` address what the guest's does."""
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
            self.uc.reg_write(SEG_REG[name], sel)
        finally:
            self._end()

    def _begin(self) -> None:
        """The monitor loads a segment register itself: its page (the real GDT) is visible."""
        self.view.monitor_mode = True
        self.monitor_page(True)

    def _end(self) -> None:
        """The monitor's own load is over: the entries it filled for the real GDT go."""
        self.view.monitor_mode = False
        self.monitor_page(False)
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)
