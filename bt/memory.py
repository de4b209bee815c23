"""GuestMemory: the guest's RAM as the monitor reads and writes it, with code-page write watch."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from unicorn.unicorn_py3.unicorn import uclib

from bt.engine import Engine
from bt.types import PAGE_SIZE, page_of, pages_spanned


class GuestMemory:
    """Guest-physical RAM [0, size) plus the linear view (no guest paging yet: identity).

    Every write the monitor makes on the guest's behalf goes through `write`, which tells the
    translation cache about writes to pages holding translated code, exactly as the
    write-protection fault does for writes made by translated code.
    """

    def __init__(self, engine: Engine, size: int) -> None:
        self._uc = engine.uc
        # Unicorn's C API directly: the binding's mem_read/mem_write cost ~2 us a call, most
        # of it building ctypes buffers, and callouts make several small accesses each.
        self._uch = engine.uc._uch
        self._buf = ctypes.create_string_buffer(PAGE_SIZE)
        self.size = size
        self.unassigned = engine.unassigned_value
        self.on_code_write: Callable[[int], None] = lambda page: None
        self.code_pages: set[int] = engine.protected_pages

    def linear_to_phys(self, linear: int) -> int:
        """Guest-physical address of a guest-linear one (paging comes later)."""
        return linear & 0xFFFFFFFF

    def read(self, linear: int, size: int) -> bytes:
        """Guest-visible bytes at `linear`; outside RAM reads as the unassigned pattern."""
        out = bytearray()
        addr = linear & 0xFFFFFFFF
        while len(out) < size:
            n = min(size - len(out), PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            phys = self.linear_to_phys(addr)
            if phys + n <= self.size:
                uclib.uc_mem_read(self._uch, phys, self._buf, n)
                out += ctypes.string_at(self._buf, n)
            else:
                out += bytes([self.unassigned & 0xFF]) * n
            addr = (addr + n) & 0xFFFFFFFF
        return bytes(out)

    def write(self, linear: int, data: bytes) -> None:
        """Write guest-visible bytes; writes outside RAM are dropped as on an empty bus."""
        addr = linear & 0xFFFFFFFF
        done = 0
        while done < len(data):
            n = min(len(data) - done, PAGE_SIZE - (addr & (PAGE_SIZE - 1)))
            phys = self.linear_to_phys(addr)
            if phys + n <= self.size:
                if page_of(phys) in self.code_pages:
                    self.on_code_write(page_of(phys))
                uclib.uc_mem_write(self._uch, phys, bytes(data[done : done + n]), n)
            done += n
            addr = (addr + n) & 0xFFFFFFFF

    def read_u(self, linear: int, size: int) -> int:
        """Little-endian unsigned value of `size` bytes."""
        return int.from_bytes(self.read(linear, size), "little")

    def write_u(self, linear: int, size: int, value: int) -> None:
        """Store `value` as `size` little-endian bytes."""
        self.write(linear, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))

    def fetch_code(self, linear: int, size: int) -> bytes:
        """Guest code bytes for the translator (same view as a data read)."""
        return self.read(linear, size)

    def load(self, phys: int, data: bytes) -> None:
        """Place boot data in RAM (before the guest runs)."""
        self._uc.mem_write(phys, data)

    def phys_pages(self, linear_ranges: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
        """Guest-physical pages covering the given linear byte ranges."""
        pages: list[int] = []
        for start, end in linear_ranges:
            for p in pages_spanned(start, end - start):
                phys = page_of(self.linear_to_phys(p))
                if phys < self.size and phys not in pages:
                    pages.append(phys)
        return tuple(pages)
