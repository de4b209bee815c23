"""GuestMmu: the guest's paging as the monitor applies it: the walker, the code TLB, flushes.

With guest paging on, translated code runs on shadow page tables Unicorn walks itself
(bt/shadowpaging.py), one set per address space and privilege: a MOV CR3 or a change between
supervisor and user switches to another set, and the guest's TLB flush points sync them. Under
the TLB-fill hook (paging off, and code the shadow cannot serve), Unicorn's fill hook does not
say which privilege an access had (DESIGN fact 15), so every entry in Unicorn's TLB was filled
for the virtual CPL of its moment: when that changes between supervisor and user, the TLB is
flushed (`sync_privilege`). The monitor's own fetches (the translator's, the block keys) go
through a small code TLB of its own, flushed with Unicorn's: like a CPU's ITLB, it keeps a
translation until the guest flushes (MOV CR3, INVLPG, a CR0/CR4 paging change).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bt.paging import FETCH, WRITE, PageWalker
from bt.shadowpaging import ShadowPaging
from bt.types import PAGE_MASK
from bt.vcpu import Vcpu

if TYPE_CHECKING:
    from bt.engine import Engine
    from bt.memory import GuestMemory

EFER = 0xC0000080
_DATA_TLB = 1024  # entries of the monitor's data TLB (cleared whole when full)


def guest_paging(
    engine: Engine, memory: GuestMemory, vcpu: Vcpu, *, nx: bool, maxphyaddr: int
) -> GuestMmu:
    """The guest's MMU, wired: the walker reads the page tables through the shadow tables'
    bookkeeping; the fill hook, the monitor's accesses and the block keys use the MMU."""
    shadow = ShadowPaging(engine.uc, engine.ram, memory.size, memory)
    walker = PageWalker(shadow, nx=nx, maxphyaddr=maxphyaddr)
    shadow.walker = walker
    view = engine.view
    shadow.protected = view.protected_pages
    shadow.rom = view.rom_pages
    shadow.flush_tlb = view.flush_tlb
    engine.shadow = view.shadow = shadow
    memory.table_pages = shadow.tables
    memory.on_table_write = shadow.monitor_wrote
    mmu = GuestMmu(walker, vcpu)
    mmu.flush_tlb = view.flush_tlb
    mmu.shadow = shadow
    mmu.enter_native = engine.mode.enter
    mmu.leave_native = engine.mode.leave
    memory.mmu = view.mmu = mmu
    return mmu


class GuestMmu:
    """Guest-linear to guest-physical translation for data, fetches and the monitor."""

    def __init__(self, walker: PageWalker, vcpu: Vcpu) -> None:
        self.walker = walker
        self.vcpu = vcpu
        self.flush_tlb: Callable[[], None] = lambda: None  # Unicorn's TLB (the engine sets it)
        # Unicorn's own walker on shadow tables, and how the engine turns it on and off.
        self.shadow: ShadowPaging | None = None
        self.enter_native: Callable[[int], None] = lambda _cr3: None
        self.leave_native: Callable[[], None] = lambda: None
        self._code: dict[int, int] = {}  # linear page -> physical page, for fetches
        self._data: dict[int, tuple[int, bool]] = {}  # page << 1 | user -> (phys, write_ok)
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
        self._native()

    def _native(self) -> None:
        """Unicorn walks the shadow of the current address space at the current privilege,
        or (paging off) the fill hook serves it."""
        shadow = self.shadow
        if shadow is None:
            return
        w = self.walker
        if w.enabled:
            v = self.vcpu
            self.enter_native(shadow.set_mode(w.mode(), v.cr3, v.cpl == 3, w.pdptes))
        else:
            self.leave_native()

    def flush(self) -> None:
        """Forget every translation (the guest's TLB flush: MOV CR3, INVLPG, CR0/CR4)."""
        self.flushes += 1
        self._code.clear()
        self._data.clear()
        self.flush_tlb()
        if self.shadow is not None and self.walker.enabled:
            self.shadow.sync()
        self.user = self.vcpu.cpl == 3
        self.supervisor_fills = False

    def invalidate(self, page: int) -> None:
        """INVLPG: the guest's TLB forgets linear `page` (-1: nothing to name). The fill hook's
        entries and the code TLB go whole; the shadow tables drop that page's entry alone
        (other stale entries may stay until the next MOV CR3, as a TLB's may)."""
        self.flushes += 1
        self._code.clear()
        key = (page >> 12) << 1
        self._data.pop(key, None)
        self._data.pop(key | 1, None)
        self.flush_tlb()
        if self.shadow is not None and self.walker.enabled and page >= 0:
            self.shadow.invalidate(page)
        self.user = self.vcpu.cpl == 3
        self.supervisor_fills = False

    def sync_privilege(self) -> None:
        """After something that may have changed the virtual CPL: entries filled for the
        supervisor must not serve the user (a user access to a supervisor page). Entries
        filled for the user serve the supervisor as they are: what a user access may do, a
        supervisor access may too (there is no SMAP/SMEP), and a supervisor write to a page
        the entry holds read-only fills again."""
        user = self.vcpu.cpl == 3
        shadow = self.shadow
        if shadow is not None and self.walker.enabled:
            # Unicorn walks a shadow of each privilege: switch to this one's, no flush (the
            # fill hook's entries go at every switch to it anyway). The code TLB is the
            # monitor's, filled at the CPL of its moment.
            current = shadow.current
            if current is None or current.key[1] != user:
                v = self.vcpu
                self.enter_native(shadow.activate(v.cr3, user, self.walker.pdptes))
            if user and not self.user and self.supervisor_fills:
                self._code.clear()
                self.supervisor_fills = False
            self.user = user
            return
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
        if access == FETCH or not self.walker.enabled:
            return self.walker.translate(linear, access, user)
        # The monitor's own data TLB (callout operands, frames, descriptor tables): a walk's
        # result serves later reads, and writes once D is set, until the guest's next flush.
        key = (linear >> 12) << 1 | user
        hit = self._data.get(key)
        if hit is not None and (access != WRITE or hit[1]):
            return hit[0] | (linear & 0xFFF), hit[1]
        phys, write_ok = self.walker.translate(linear, access, user)
        if len(self._data) >= _DATA_TLB:
            self._data.clear()
        self._data[key] = (phys & ~0xFFF, write_ok)
        return phys, write_ok

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
