"""GuestView: the guest's view of memory, as Unicorn's TLB-fill hook gives it out.

Unicorn runs in its virtual-TLB mode (DESIGN fact 9): every TLB entry comes from `fill`. A
fetch is served only from the translation-cache window (translated code), a data access gets
guest memory: linear = guest-physical without guest paging, or what the guest's page tables
say (bt/guestmmu.py), with pages holding translated code read-only (a write is self-modifying
code, bt/smc.py). The monitor's own page is visible only while the monitor loads a segment
register itself (`monitor_mode`).
"""

from __future__ import annotations

from dataclasses import dataclass

from unicorn import (
    UC_HOOK_MEM_UNMAPPED,
    UC_MEM_FETCH,
    UC_MEM_WRITE,
    UC_PROT_EXEC,
    UC_PROT_READ,
    UC_PROT_WRITE,
    Uc,
)
from unicorn.unicorn_const import UC_CTL_IO_WRITE, UC_CTL_TLB_FLUSH

from bt.guestmmu import GuestMmu
from bt.layout import (
    MON_LINEAR,
    MON_PHYS,
    ROOTS_PHYS,
    TC_LINEAR,
    TC_PHYS,
    TC_SIZE,
    ZERO_LINEAR,
    ZERO_PHYS,
)
from bt.paging import READ, WRITE, PageFault
from bt.shadowpaging import ShadowPaging
from bt.types import CodeAddr

_HOLE = 1 << 35  # Unicorn-physical, never mapped: where refused guest pages point
# Unassigned (its writes dropped): where a guest write to ROM goes, write-only, so that the
# next read of the page fills again and reads the ROM (QEMU drops writes to its ROM regions).
ROM_SINK = ROOTS_PHYS + 0x1000


@dataclass(frozen=True, slots=True)
class DeniedAccess:
    """A guest data access the memory view refused (a write to a page holding translated code,
    or a fetch outside the translation cache)."""

    kind: str  # "write" or "fetch"
    page: int
    code_addr: CodeAddr


SHADOW_BASE, SHADOW_END = 0xC0000, 0x100000  # the BIOS shadow area the PAM registers map


class GuestView:
    """The TLB-fill policy and what it refused, for the engine to report."""

    def __init__(self, uc: Uc, ram_size: int) -> None:
        self.uc = uc
        self.ram_size = ram_size
        self.monitor_mode = False
        self.protected_pages: set[int] = set()
        # Guest pages holding code that are left writable, their blocks checking themselves
        # (bt/smc.py, translator/selfcheck.py).
        self.mixed_pages: set[int] = set()
        # The A20 gate (port 0x92, the i8042's output port): off, physical addresses lose
        # bit 20, so 1 MiB and above wraps as on a PC (QEMU's cpu_x86_set_a20).
        self.a20_mask = 0xFFFFFFFF
        self.denied: DeniedAccess | None = None
        self.unassigned_value = 0  # QEMU 7.2 reads unassigned memory as 0 (guests/isolation.asm)
        self.tlb_fills = 0
        self.mmio_accesses = 0  # translated code's accesses to devices (bt/mmio.py)
        self.mmu: GuestMmu | None = None  # guest paging (the builder attaches it)
        self.page_fault: PageFault | None = None  # what the guest's paging refused, exactly
        self.refused: dict[int, int] = {}  # page -> #PF error code, pointed at the hole
        self._unmapped_hook: int | None = None
        self.shadow: ShadowPaging | None = None  # its entries follow the same protections
        # Read-only guest-physical memory: [rom_low) in RAM (the firmware's copy below 1 MiB),
        # and everything from rom_top to 4 GiB (a --bios file).
        self.rom_low = (0, 0)
        self.rom_top = 1 << 32
        # 0xC0000-0xFFFFF by 16 KiB segments (bit n: 0xC0000 + n * 16 KiB) that the chipset
        # makes read-only: the i440FX's PAM registers (bt/devices/i440fx.py).
        self.shadow_read_only = 0
        self.rom_pages = RomPages(self)

    def is_rom(self, phys: int) -> bool:
        """Whether guest-physical `phys` is ROM (writes to it are dropped)."""
        lo, hi = self.rom_low
        if lo <= phys < hi or phys >= self.rom_top:
            return True
        return SHADOW_BASE <= phys < SHADOW_END and bool(
            self.shadow_read_only >> ((phys - SHADOW_BASE) >> 14) & 1
        )

    def set_shadow_read_only(self, segments: int) -> None:
        """The PAM registers changed: `segments` (bit n: 0xC0000 + n * 16 KiB) read-only now.
        No TLB or shadow-table entry may keep writing a segment that became read-only."""
        newly = segments & ~self.shadow_read_only
        self.shadow_read_only = segments
        if self.shadow is not None:
            for n in range(16):
                if newly >> n & 1:
                    for page in range(
                        SHADOW_BASE + n * 0x4000, SHADOW_BASE + (n + 1) * 0x4000, 0x1000
                    ):
                        self.shadow.write_protect(page)
        self.flush_tlb()

    def unassigned_read(self, uc: Uc, offset: int, size: int, _ud: object) -> int:
        """MMIO read of unassigned memory."""
        return self.unassigned_value & ((1 << (8 * size)) - 1)

    def unassigned_write(self, uc: Uc, offset: int, size: int, value: int, _ud: object) -> None:
        """MMIO write to unassigned memory: dropped."""
        return None

    def fill(self, vaddr: int, access: int, entry: object) -> bool:
        """Unicorn's TLB fill: the entry for linear page `vaddr` (False: refused)."""
        self.tlb_fills += 1
        if access == UC_MEM_FETCH:
            if TC_LINEAR <= vaddr < TC_LINEAR + TC_SIZE:
                # Execute only: a guest data access to the same page misses this entry and
                # gets the guest's view instead (isolation).
                entry.paddr = TC_PHYS + (vaddr - TC_LINEAR)  # type: ignore[attr-defined]
                entry.perms = UC_PROT_EXEC  # type: ignore[attr-defined]
                return True
            if self.monitor_mode and vaddr == MON_LINEAR:
                entry.paddr = MON_PHYS  # type: ignore[attr-defined]
                entry.perms = UC_PROT_EXEC | UC_PROT_READ  # type: ignore[attr-defined]
                return True
            self.denied = DeniedAccess("fetch", vaddr, CodeAddr(0))
            return False
        if self.monitor_mode and vaddr == MON_LINEAR:
            entry.paddr = MON_PHYS  # type: ignore[attr-defined]
            entry.perms = UC_PROT_READ | UC_PROT_WRITE  # type: ignore[attr-defined]
            return True
        # Guest view. An access that straddles 4 GiB asks for page 0x100000000 (QEMU's
        # addresses are 64-bit inside): linear addresses wrap at 4 GiB, and nothing above may
        # ever reach the monitor.
        vaddr &= 0xFFFFFFFF
        write = access == UC_MEM_WRITE
        perms = UC_PROT_READ | UC_PROT_WRITE
        mmu = self.mmu
        if mmu is not None and mmu.walker.enabled:
            try:
                phys, write_ok = mmu.fill(vaddr, WRITE if write else READ)
            except PageFault as fault:
                # Refused by the guest's page tables. The fill hook sees only the page, so the
                # entry points into an unmapped hole instead: the access itself then reaches
                # the unmapped-memory hook with its exact address, which becomes CR2, and
                # nothing of the instruction happens (`unmapped`).
                self.refused[vaddr] = fault.error_code
                if self._unmapped_hook is None:
                    # Only while an entry points at the hole: an unmapped-memory hook makes
                    # Unicorn compile every memory access slower (compute 3x), and it is
                    # consulted at run time, so code compiled before it still reaches it.
                    self._unmapped_hook = self.uc.hook_add(UC_HOOK_MEM_UNMAPPED, self.unmapped)
                entry.paddr = _HOLE + vaddr  # type: ignore[attr-defined]
                entry.perms = UC_PROT_READ | UC_PROT_WRITE  # type: ignore[attr-defined]
                return True
            if phys >> 32:
                phys = self.ram_size | (phys & 0xFFF)  # above 4 GiB (PAE): unassigned, as QEMU
            if not (write or write_ok):
                # Not writable now (or its dirty bit is clear): a write fills again, so the
                # walker sees it and sets the dirty bit exactly then (DESIGN fact 15).
                perms = UC_PROT_READ
        else:
            phys = vaddr
            if vaddr & ~0xFFF == ZERO_LINEAR and not write and self.unassigned_value == 0:
                # Unassigned, so it reads 0: from a page of zeros, without an MMIO call per
                # read (self-checking blocks read it; a write fills again and is dropped).
                entry.paddr = ZERO_PHYS | (vaddr & 0xFFF)  # type: ignore[attr-defined]
                entry.perms = UC_PROT_READ  # type: ignore[attr-defined]
                return True
        phys &= self.a20_mask
        page = phys & ~0xFFF
        if page == ROOTS_PHYS:
            phys += 0x1000  # the monitor's page there reads as unassigned, as the next one
        if self.is_rom(page):
            entry.paddr = ROM_SINK | (phys & 0xFFF) if write else phys  # type: ignore[attr-defined]
            entry.perms = UC_PROT_WRITE if write else UC_PROT_READ  # type: ignore[attr-defined]
            return True
        if page in self.protected_pages:
            if write:
                self.denied = DeniedAccess("write", page, CodeAddr(0))
                return False
            perms = UC_PROT_READ
        entry.paddr = phys  # type: ignore[attr-defined]
        entry.perms = perms  # type: ignore[attr-defined]
        return True

    def set_a20(self, on: int) -> None:
        """The A20 line changed (bit 20 of every physical address follows it)."""
        mask = 0xFFFFFFFF if on else ~(1 << 20) & 0xFFFFFFFF
        if mask != self.a20_mask:
            self.a20_mask = mask
            self.flush_tlb()

    def flush_tlb(self) -> None:
        """Drop every entry of Unicorn's TLB (about 2 us: DESIGN fact 17)."""
        self.refused.clear()
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)
        if self._unmapped_hook is not None:
            self.uc.hook_del(self._unmapped_hook)
            self._unmapped_hook = None

    def unmapped(
        self, uc: Uc, access: int, address: int, size: int, value: int, _ud: object
    ) -> bool:
        """An access through an entry the guest's paging refused: its exact linear address."""
        linear = address - _HOLE
        code = self.refused.get(linear & ~0xFFF) if 0 <= linear < 1 << 32 else None
        if code is not None:
            self.page_fault = PageFault(linear, code)
        return False  # emu_start stops with EIP at the instruction, which did nothing

    def protect_page(self, page: int, on: bool) -> None:
        """Write-protect a guest page (it holds translated code) or lift the protection."""
        if on:
            if page not in self.protected_pages and page not in self.mixed_pages:
                self.protected_pages.add(page)
                if self.shadow is not None:
                    self.shadow.write_protect(page)  # its writable shadow entries, then
                # The page may sit writable in the TLB already.
                self.flush_tlb()
        else:
            self.protected_pages.discard(page)
            self.flush_tlb()


class RomPages:
    """The guest-physical pages that are ROM, as a container (for the shadow tables)."""

    def __init__(self, view: GuestView) -> None:
        self._view = view

    def __contains__(self, page: object) -> bool:
        return isinstance(page, int) and self._view.is_rom(page)
