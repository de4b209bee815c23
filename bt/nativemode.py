"""NativeMode: switching Unicorn between its own page walker (shadow tables) and the fill hook.

With guest paging on, Unicorn runs in UC_TLB_CPU mode with real CR0.PG and WP, CR4.PAE and
SMAP, and CR3 at a shadow root (bt/shadowpaging.py); otherwise, and for the rare code the
shadow tables cannot serve, in UC_TLB_VIRTUAL mode, every fill asked of bt/guestview.py.
Unicorn's compiled code stays valid across the switch (the cache window is at the same
physical address either way).
"""

from __future__ import annotations

from unicorn import UC_TLB_CPU, UC_TLB_VIRTUAL, Uc
from unicorn import x86_const as R
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH

from bt.guestview import GuestView

_CR0_PG_WP = (1 << 31) | (1 << 16)
_CR4_PAE_SMAP = (1 << 5) | (1 << 21)


class NativeMode:
    """Which way Unicorn translates addresses now, and the real registers that go with it."""

    def __init__(self, uc: Uc, view: GuestView) -> None:
        self.uc = uc
        self.view = view
        self.on = False  # Unicorn walks the shadow tables
        self.paging_cr4 = 0  # real CR4 bits it needs (bt/callouts/fpustate.py keeps them)
        self.real_cr3 = 0

    def enter(self, real_cr3: int) -> None:
        """Let Unicorn walk the shadow tables from `real_cr3` (guest paging on, or a switch of
        address space); its TLB is flushed."""
        uc = self.uc
        self.real_cr3 = real_cr3
        if not self.on:
            self.on = True
            uc.ctl_set_tlb_mode(UC_TLB_CPU)
            self.paging_cr4 = _CR4_PAE_SMAP
            uc.reg_write(R.UC_X86_REG_CR4, uc.reg_read(R.UC_X86_REG_CR4) | _CR4_PAE_SMAP)
            uc.reg_write(R.UC_X86_REG_CR3, real_cr3)
            uc.reg_write(R.UC_X86_REG_CR0, uc.reg_read(R.UC_X86_REG_CR0) | _CR0_PG_WP)
        else:
            uc.reg_write(R.UC_X86_REG_CR3, real_cr3)
        uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def leave(self) -> None:
        """Back to the TLB-fill hook (guest paging off, or code the shadow cannot serve)."""
        if not self.on:
            return
        uc = self.uc
        self.on = False
        uc.reg_write(R.UC_X86_REG_CR0, uc.reg_read(R.UC_X86_REG_CR0) & ~_CR0_PG_WP)
        uc.reg_write(R.UC_X86_REG_CR4, uc.reg_read(R.UC_X86_REG_CR4) & ~_CR4_PAE_SMAP)
        self.paging_cr4 = 0
        uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        self.view.flush_tlb()
