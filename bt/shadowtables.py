"""ShadowTables: the memory of the shadow page tables Unicorn walks, and their address spaces.

PAE tables (always 4 KiB leaves) in an arena of host memory Unicorn maps above 4 GiB, each
address space (ShadowRoot) a PDPT in the roots page below 4 GiB (PAE's CR3 has 32 bits) with
its four PDs and the PTs under them, allocated as the guest touches regions of 2 MiB. The
regions of the monitor's window share one set of PTs in every root: the cache's pages as user
pages (fetched from CPL 0, kept out of data accesses by SMAP), the monitor's page only while
the monitor loads a segment register itself. bt/shadowpaging.py decides what goes in them.
"""

from __future__ import annotations

import ctypes
import mmap
import struct
from array import array
from collections.abc import Container

from unicorn import UC_PROT_READ, UC_PROT_WRITE, Uc

from bt.layout import MON_LINEAR, MON_PHYS, ROOTS_PHYS, SHADOW_PHYS, TC_LINEAR, TC_PHYS, TC_SIZE

P, RW, US, A, D = 1, 2, 4, 0x20, 0x40
LEAF = P | A | D  # guest data: a supervisor page (CPL 0 reaches it, SMAP does not apply)
ADDR = 0x000F_FFFF_FFFF_F000
_TABLE = P | RW | US | A  # a shadow PDE: the leaf decides
_TC = P | US | A  # the cache window: user pages, fetched from CPL 0; SMAP keeps data out
_MON = P | RW | A | D  # the monitor's page, while it loads a segment register itself
_Q = struct.Struct("<Q")

ARENA_PAGES = 4096  # 16 MiB of shadow tables
MAX_ROOTS = 128  # PDPTs in the roots page (32 bytes each)
REGION = 1 << 21  # what one shadow PT maps
WINDOW = range(TC_LINEAR // REGION, (MON_LINEAR // REGION) + 1)  # regions the monitor owns
_TC_PTS = TC_SIZE // REGION
_UNASSIGNED = ROOTS_PHYS + 0x1000  # where non-RAM guest pages the roots page hides go


class ShadowRoot:
    """One guest address space at one privilege: a PDPT, its four PDs and the PTs under them."""

    __slots__ = ("key", "slot", "pds", "pts", "src", "pdptes")

    def __init__(
        self, key: tuple[int, bool], slot: int, pds: list[int], pdptes: tuple[int, ...]
    ) -> None:
        self.key = key  # (guest CR3, user)
        self.slot = slot
        self.pds = pds  # arena offsets of the shadow PDs
        self.pts: dict[int, int] = {}  # region (linear >> 21) -> arena offset of its shadow PT
        self.src: dict[int, int] = {}  # region -> the guest PT page its entries follow, or -1
        self.pdptes = pdptes  # the guest's PDPTEs this root was built for (PAE)


class ShadowTables:
    """The arena, the roots page and the address spaces built in them."""

    def __init__(self, uc: Uc, ram_size: int) -> None:
        self._ram_size = ram_size
        self._arena_map = mmap.mmap(-1, ARENA_PAGES << 12)
        self.arena = memoryview(self._arena_map)
        host = ctypes.addressof(ctypes.c_char.from_buffer(self._arena_map))
        uc.mem_map_ptr(SHADOW_PHYS, ARENA_PAGES << 12, UC_PROT_READ | UC_PROT_WRITE, host)
        self._roots_map = mmap.mmap(-1, 0x1000)
        self._roots_page = memoryview(self._roots_map)
        host = ctypes.addressof(ctypes.c_char.from_buffer(self._roots_map))
        uc.mem_map_ptr(ROOTS_PHYS, 0x1000, UC_PROT_READ | UC_PROT_WRITE, host)
        for i in range(TC_SIZE >> 12):
            _Q.pack_into(self.arena, i * 8, (TC_PHYS + (i << 12)) | _TC)
        self._mon_entry = (_TC_PTS << 12) + ((MON_LINEAR >> 12) & 511) * 8
        self._first_free = (_TC_PTS + 1) << 12
        self.roots: dict[tuple[int, bool], ShadowRoot] = {}
        self.by_slot: dict[int, ShadowRoot] = {}
        self._free: list[int] = []
        self._next = self._first_free

    def reset(self) -> None:
        """Forget every address space."""
        self.roots.clear()
        self.by_slot.clear()
        self._free.clear()
        self._next = self._first_free
        self._roots_page[:] = bytes(0x1000)

    def room(self, pages: int) -> bool:
        """Whether `pages` more table pages (and a root) fit."""
        left = len(self._free) + ((ARENA_PAGES << 12) - self._next) // 0x1000
        return len(self.roots) < MAX_ROOTS and left >= pages

    def new_root(
        self, key: tuple[int, bool], pdptes: tuple[int, ...], slot: int | None = None
    ) -> ShadowRoot:
        """An empty address space (the caller made `room`), in PDPT `slot` if it is free."""
        if slot is None or slot in self.by_slot:
            slot = next(i for i in range(MAX_ROOTS) if i not in self.by_slot)
        pds = [self._alloc() for _ in range(4)]
        root = ShadowRoot(key, slot, pds, pdptes)
        for i, pd in enumerate(pds):
            _Q.pack_into(self._roots_page, slot * 32 + i * 8, (SHADOW_PHYS + pd) | P)
        pd3 = pds[3]
        for region in WINDOW:  # the monitor's regions: the same PTs in every root
            pt = (region - WINDOW[0]) << 12
            _Q.pack_into(self.arena, pd3 + (region & 511) * 8, (SHADOW_PHYS + pt) | _TABLE)
        self.roots[key] = root
        self.by_slot[slot] = root
        return root

    def drop_root(self, root: ShadowRoot) -> list[tuple[int, int]]:
        """Free an address space; the (region, guest PT) pairs it followed."""
        dropped = [(region, self.drop_region(root, region)) for region in list(root.pts)]
        self._free.extend(root.pds)
        self._roots_page[root.slot * 32 : root.slot * 32 + 32] = bytes(32)
        del self.roots[root.key]
        del self.by_slot[root.slot]
        return dropped

    @staticmethod
    def real_cr3(root: ShadowRoot) -> int:
        """The real CR3 that makes Unicorn walk `root`."""
        return ROOTS_PHYS + root.slot * 32

    def _alloc(self) -> int:
        if self._free:
            off = self._free.pop()
        else:
            off = self._next
            self._next += 0x1000
        self.arena[off : off + 0x1000] = bytes(0x1000)
        return off

    def add_region(self, root: ShadowRoot, region: int, src: int) -> int:
        """A shadow PT for `region` of `root`, following guest PT `src` (-1: a large page)."""
        pt = self._alloc()
        root.pts[region] = pt
        root.src[region] = src
        _Q.pack_into(
            self.arena, root.pds[region >> 9] + (region & 511) * 8, (SHADOW_PHYS + pt) | _TABLE
        )
        return pt

    def drop_region(self, root: ShadowRoot, region: int) -> int:
        """Forget `region` of `root`; the guest PT it followed (-1: none)."""
        pt = root.pts.pop(region)
        _Q.pack_into(self.arena, root.pds[region >> 9] + (region & 511) * 8, 0)
        self._free.append(pt)
        return root.src.pop(region)

    def fill_region(
        self, pt: int, base: int, writable: bool, keep: tuple[Container[int], ...]
    ) -> bool:
        """Map all 512 entries of shadow PT `pt` to guest-physical `base` onwards (a guest
        large page), writable if `writable` but for the pages in any of `keep`; whether any
        entry is writable."""
        flags = LEAF | (RW if writable else 0)
        if base + REGION <= self._ram_size:
            entries = array("Q", range(base | flags, (base + REGION) | flags, 0x1000))
        else:
            pages = (self.unicorn_page(base + (i << 12)) for i in range(512))
            entries = array("Q", (page | flags for page in pages))
        if writable:
            for i in range(512):
                gpage = base + (i << 12)
                if any(gpage in k for k in keep):
                    entries[i] &= ~RW
        self.arena[pt : pt + 0x1000] = entries.tobytes()
        return writable

    def leaf(self, root: ShadowRoot, linear: int) -> tuple[int, int]:
        """(arena offset, value) of the shadow entry for `linear` (offset -1: no PT there)."""
        pt = root.pts.get(linear >> 21)
        if pt is None:
            return -1, 0
        off = pt + ((linear >> 12) & 511) * 8
        return off, _Q.unpack_from(self.arena, off)[0]

    def read(self, off: int) -> int:
        """A shadow entry."""
        return int(_Q.unpack_from(self.arena, off)[0])

    def write(self, off: int, value: int) -> None:
        """Set a shadow entry (the caller flushes Unicorn's TLB where it must)."""
        _Q.pack_into(self.arena, off, value)

    def unicorn_page(self, gpage: int) -> int:
        """Where Unicorn finds guest-physical page `gpage`: itself, or an unassigned page."""
        if gpage < self._ram_size:
            return gpage
        if gpage >> 32 or gpage == ROOTS_PHYS:
            return _UNASSIGNED  # unassigned, as QEMU reads it
        return gpage

    def monitor_page(self, visible: bool) -> None:
        """Show the monitor's page (its GDT) while the monitor loads a segment register."""
        _Q.pack_into(self.arena, self._mon_entry, (MON_PHYS | _MON) if visible else 0)
