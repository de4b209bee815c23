"""GuestMmu: the guest's paging as the monitor applies it: the walker, the code TLB, flushes.

The real CPU always runs at CPL 3 and Unicorn's TLB-fill hook does not say which privilege an
access had (DESIGN fact 15), so every entry in Unicorn's TLB was filled for the virtual CPL of
its moment: when that changes between supervisor and user, the TLB is flushed
(`sync_privilege`). The monitor's own fetches (the translator's, the block keys) go through a
small code TLB of its own, flushed with Unicorn's: like a CPU's ITLB, it keeps a translation
until the guest flushes (MOV CR3, INVLPG, a CR0/CR4 paging change).
"""

from __future__ import annotations

from collections.abc import Callable

from bt.paging import FETCH, PageWalker
from bt.types import PAGE_MASK
from bt.vcpu import Vcpu

EFER = 0xC0000080


class GuestMmu:
    """Guest-linear to guest-physical translation for data, fetches and the monitor."""

    def __init__(self, walker: PageWalker, vcpu: Vcpu) -> None:
        self.walker = walker
        self.vcpu = vcpu
        self.flush_tlb: Callable[[], None] = lambda: None  # Unicorn's TLB (the engine sets it)
        self._code: dict[int, int] = {}  # linear page -> physical page, for fetches
        # The guest's CPL is 3 (kept at every flush and privilege sync: the fill hook reads
        # it instead of the vCPU), and whether an entry was filled for CPL 0-2 since the flush.
        self.user = False
        self.supervisor_fills = False
        self.flushes = 0

    @property
    def enabled(self) -> bool:
        """Guest paging is on (CR0.PG)."""
        return self.walker.enabled

    def set_mode(self) -> None:
        """After a write to CR0, CR3, CR4 or EFER: the walker takes the new values (loading
        PAE's PDPTEs: BadPdpte if one is bad) and every cached translation goes."""
        v = self.vcpu
        self.walker.set_mode(v.cr0, v.cr3, v.cr4, v.msrs.get(EFER, 0))
        self.flush()

    def flush(self) -> None:
        """Forget every translation (the guest's TLB flush: MOV CR3, INVLPG, CR0/CR4)."""
        self.flushes += 1
        self._code.clear()
        self.flush_tlb()
        self.user = self.vcpu.cpl == 3
        self.supervisor_fills = False

    def sync_privilege(self) -> None:
        """After something that may have changed the virtual CPL: entries filled for the
        supervisor must not serve the user (a user access to a supervisor page). Entries
        filled for the user serve the supervisor as they are: what a user access may do, a
        supervisor access may too (there is no SMAP/SMEP), and a supervisor write to a page
        the entry holds read-only fills again."""
        user = self.vcpu.cpl == 3
        if user == self.user or not self.walker.enabled:
            return
        if user and self.supervisor_fills:
            self.flush()
        else:
            self.user = user

    def translate(self, linear: int, access: int, system: bool = False) -> tuple[int, bool]:
        """(physical address, write_ok) of a data access at the virtual CPL, or as the
        supervisor for `system` accesses (descriptor tables, the TSS); raises PageFault."""
        user = not system and self.vcpu.cpl == 3
        if not user:
            self.supervisor_fills = True
        return self.walker.translate(linear, access, user)

    def fill(self, linear: int, access: int) -> tuple[int, bool]:
        """`translate` for Unicorn's TLB-fill hook: at the CPL the last privilege sync saw (the
        only one translated code runs at), without asking the vCPU on every miss."""
        if not self.user:
            self.supervisor_fills = True
        return self.walker.translate(linear, access, self.user)

    def code_page(self, linear: int) -> int:
        """The physical page an instruction fetch at `linear` reads; raises PageFault."""
        page = linear & PAGE_MASK
        phys = self._code.get(page)
        if phys is None:
            user = self.vcpu.cpl == 3
            self.supervisor_fills |= not user
            phys = self.walker.translate(linear, FETCH, user)[0] & ~0xFFF
            self._code[page] = phys
        return phys

    def probe(self, linear: int) -> int | None:
        """The physical address of `linear` with no side effect and no check (None: unmapped)."""
        return self.walker.probe(linear)
