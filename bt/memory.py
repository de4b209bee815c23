"""GuestMemory: the guest's RAM as the monitor reads and writes it, with code-page write watch."""

from __future__ import annotations

import struct
from collections.abc import Callable, Container

from bt.engine import Engine
from bt.guestmmu import GuestMmu
from bt.paging import READ, WRITE
from bt.types import PAGE_SIZE, page_of, pages_spanned

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class GuestMemory:
    """Guest-physical RAM [0, size) and the guest-linear view through the guest's paging.

    Every write the monitor makes on the guest's behalf goes through `write`, which tells the
    translation cache about writes to pages holding translated code, exactly as the
    write-protection fault does for writes made by translated code. Under guest paging an
    access the guest's page tables refuse raises PageFault (the caller delivers #PF); `system`
    accesses (descriptor tables, the TSS) are checked as the supervisor's, whatever the CPL.
    """

    def __init__(self, engine: Engine, size: int) -> None:
        self._uc = engine.uc
        # RAM itself (bt/engine.py maps it from host memory): no C call per access, and
        # callouts and page walks make several small accesses each.
        self._ram = engine.ram
        self.size = size
        self.unassigned = engine.view.unassigned_value
        self.on_code_write: Callable[[int], None] = lambda page: None
        self.code_pages: set[int] = engine.view.protected_pages
        self.mixed_pages: set[int] = engine.view.mixed_pages  # code pages left writable
        self._view = engine.view
        # Guest page tables the shadow tables follow (bt/shadowpaging.py: the builder sets it).
        self.table_pages: Container[int] = ()
        self.on_table_write: Callable[[int], None] = lambda page: None
        self.mmu: GuestMmu | None = None  # set by the builder once the vCPU exists
        # Told of every guest-linear access made through read/write (linear, size, write):
        # data breakpoints watch the monitor's accesses too (bt/watchpoints.py).
        self.on_access: Callable[[int, int, bool], None] | None = None

    def linear_to_phys(self, linear: int, access: int = READ, system: bool = False) -> int:
        """Guest-physical address of a guest-linear one, for an access of kind `access`
        (bt.paging READ/WRITE/FETCH); raises PageFault."""
        linear &= 0xFFFFFFFF
        mmu = self.mmu
        if mmu is None or not mmu.enabled:
            return linear & self._view.a20_mask
        return mmu.translate(linear, access, system)[0] & self._view.a20_mask

    def _pieces(self, linear: int, size: int, access: int, system: bool) -> list[tuple[int, int]]:
        """(physical address, length) of each page piece of an access, every page checked
        before any byte moves (a write that faults on its second page writes nothing)."""
        out = []
        addr = linear & 0xFFFFFFFF
        done = 0
        while done < size:
            n = min(size - done, PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            out.append((self.linear_to_phys(addr, access, system), n))
            done += n
            addr = (addr + n) & 0xFFFFFFFF
        return out

    def read(self, linear: int, size: int, system: bool = False) -> bytes:
        """Guest-visible bytes at `linear`; outside RAM reads as the unassigned pattern."""
        if self.on_access is not None:
            self.on_access(linear & 0xFFFFFFFF, size, False)
        out = bytearray()
        for phys, n in self._pieces(linear, size, READ, system):
            out += self.read_phys(phys, n)
        return bytes(out)

    def read_phys(self, phys: int, n: int) -> bytes:
        """Guest-physical bytes (n <= a page); outside RAM, the unassigned pattern."""
        if phys + n <= self.size:
            return bytes(self._ram[phys : phys + n])
        if phys >= self._view.rom_top:
            return bytes(self._uc.mem_read(phys, min(n, (1 << 32) - phys)))
        return bytes([self.unassigned & 0xFF]) * n

    def write(self, linear: int, data: bytes, system: bool = False) -> None:
        """Write guest-visible bytes; writes outside RAM are dropped as on an empty bus."""
        if self.on_access is not None:
            self.on_access(linear & 0xFFFFFFFF, len(data), True)
        done = 0
        for phys, n in self._pieces(linear, len(data), WRITE, system):
            self.write_phys(phys, bytes(data[done : done + n]))
            done += n

    def write_phys(self, phys: int, data: bytes) -> None:
        """Write guest-physical bytes within one page (dropped outside RAM)."""
        if phys + len(data) <= self.size and not self._view.is_rom(phys):
            page = page_of(phys)
            if page in self.code_pages:
                self.on_code_write(page)
            if page in self.table_pages:
                self.on_table_write(page)
            self._ram[phys : phys + len(data)] = data

    def read_u(self, linear: int, size: int, system: bool = False) -> int:
        """Little-endian unsigned value of `size` bytes."""
        return int.from_bytes(self.read(linear, size, system), "little")

    def write_u(self, linear: int, size: int, value: int, system: bool = False) -> None:
        """Store `value` as `size` little-endian bytes."""
        self.write(linear, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"), system)

    # -- bt.paging.PhysRam: the walker's page-table reads and its accessed/dirty updates ---
    def read_u32(self, phys: int) -> int:
        """A 32-bit page-table entry."""
        if phys + 4 <= self.size:
            return int(_U32.unpack_from(self._ram, phys)[0])
        return int.from_bytes(self.read_phys(phys, 4), "little")

    def read_u64(self, phys: int) -> int:
        """A 64-bit (PAE) page-table entry."""
        if phys + 8 <= self.size:
            return int(_U64.unpack_from(self._ram, phys)[0])
        return int.from_bytes(self.read_phys(phys, 8), "little")

    def write_u32(self, phys: int, value: int) -> None:
        """An entry's accessed/dirty update."""
        self.write_phys(phys, value.to_bytes(4, "little"))

    def fetch_code(self, linear: int, size: int) -> bytes:
        """Guest code bytes for the translator: a fetch at the virtual CPL, every page it
        touches translated (raises PageFault); the translator asks across a page only for an
        instruction that straddles it."""
        mmu = self.mmu
        if mmu is None or not mmu.enabled:
            return self.read(linear, size)
        out = bytearray()
        addr = linear & 0xFFFFFFFF
        while len(out) < size:
            n = min(size - len(out), PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            out += self.read_phys(mmu.code_page(addr) | (addr & (PAGE_SIZE - 1)), n)
            addr = (addr + n) & 0xFFFFFFFF
        return bytes(out)

    def peek(self, linear: int, size: int) -> bytes:
        """Guest bytes as they are, no check and no side effect (unmapped reads as zeros):
        for the persistent store's comparisons and the inspector."""
        out = bytearray()
        addr = linear & 0xFFFFFFFF
        while len(out) < size:
            n = min(size - len(out), PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            phys = self._probe(addr)
            out += bytes(n) if phys is None else self.read_phys(phys, n)
            addr = (addr + n) & 0xFFFFFFFF
        return bytes(out)

    def probe(self, linear: int) -> int | None:
        """The guest-physical address of `linear` as mapped now, no check, no side effect
        (None: unmapped)."""
        return self._probe(linear & 0xFFFFFFFF)

    def _probe(self, linear: int) -> int | None:
        mmu = self.mmu
        if mmu is None or not mmu.enabled:
            return linear
        return mmu.probe(linear)

    def load(self, phys: int, data: bytes) -> None:
        """Place boot data in RAM (before the guest runs)."""
        self._uc.mem_write(phys, data)

    def phys_pages(self, linear_ranges: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
        """Guest-physical pages covering the given linear byte ranges (as mapped now)."""
        pages: list[int] = []
        for start, end in linear_ranges:
            for p in pages_spanned(start, end - start):
                phys_addr = self._probe(p)
                if phys_addr is None:
                    continue
                phys = page_of(phys_addr)
                if phys < self.size and phys not in pages:
                    pages.append(phys)
        return tuple(pages)
