"""Routes port-I/O (or MMIO) accesses to the device that owns the address range."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bt.errors import InternalError


class BusDevice(Protocol):
    """A device on a bus: it sees only an offset into its own range, never the CPU."""

    def read(self, offset: int, size: int) -> int:
        """Value of `size` bytes (1, 2 or 4) read at `offset` into the device's range."""
        ...

    def write(self, offset: int, size: int, value: int) -> None:
        """Write `size` bytes of `value` at `offset` into the device's range."""
        ...


@runtime_checkable
class StringDevice(Protocol):
    """A device that moves a run of same-sized data-port items at once (REP INS/OUTS to an
    IDE data register): what `count` single accesses at `offset` would move, in one call."""

    def read_string(self, offset: int, size: int, count: int) -> bytes:
        """Up to `count` items of `size` bytes, as that many reads would give them (fewer,
        or none, where the device's data ends: the caller goes on item by item)."""
        ...

    def write_string(self, offset: int, size: int, data: bytes) -> int:
        """Take the items of `data` as that many writes would; how many bytes were taken."""
        ...


@dataclass(frozen=True, slots=True)
class BusRange:
    """One device's address range on a bus."""

    base: int
    length: int
    name: str


@dataclass(frozen=True, slots=True)
class BusStats:
    """Counts of accesses that reached a device and accesses that hit nothing."""

    reads: int
    writes: int
    unclaimed: int


class Bus:
    """An address space (ports or MMIO) with devices at non-overlapping ranges.

    An access that no device claims reads as all ones and writes are dropped, as on an
    ISA bus with nothing answering (QEMU behaves the same for unassigned ports).
    """

    def __init__(self) -> None:
        self._bases: list[int] = []
        self._entries: list[tuple[BusRange, BusDevice]] = []
        self._reads = 0
        self._writes = 0
        self._unclaimed = 0

    def register(self, base: int, length: int, device: BusDevice, name: str) -> None:
        """Attach `device` at [base, base + length); ranges must not overlap."""
        if length <= 0:
            raise InternalError(f"bus range for {name} has length {length}")
        i = bisect.bisect_right(self._bases, base)
        if i > 0:
            prev, _ = self._entries[i - 1]
            if prev.base + prev.length > base:
                raise InternalError(f"bus range of {name} overlaps {prev.name}")
        if i < len(self._entries) and base + length > self._entries[i][0].base:
            raise InternalError(f"bus range of {name} overlaps {self._entries[i][0].name}")
        self._bases.insert(i, base)
        self._entries.insert(i, (BusRange(base, length, name), device))

    def _find(self, addr: int) -> tuple[BusRange, BusDevice] | None:
        i = bisect.bisect_right(self._bases, addr) - 1
        if i < 0:
            return None
        rng, dev = self._entries[i]
        if addr < rng.base + rng.length:
            return rng, dev
        return None

    def read(self, addr: int, size: int) -> int:
        """Read `size` bytes at `addr`; unclaimed addresses read as all ones."""
        hit = self._find(addr)
        if hit is None:
            self._unclaimed += 1
            return (1 << (8 * size)) - 1
        self._reads += 1
        rng, dev = hit
        return dev.read(addr - rng.base, size) & ((1 << (8 * size)) - 1)

    def write(self, addr: int, size: int, value: int) -> None:
        """Write `size` bytes of `value` at `addr`; unclaimed writes are dropped."""
        hit = self._find(addr)
        if hit is None:
            self._unclaimed += 1
            return
        self._writes += 1
        rng, dev = hit
        dev.write(addr - rng.base, size, value & ((1 << (8 * size)) - 1))

    def string_device(self, addr: int) -> tuple[StringDevice, int] | None:
        """The device at `addr` and the offset there, if it moves item runs at once."""
        hit = self._find(addr)
        if hit is None or not isinstance(hit[1], StringDevice):
            return None
        return hit[1], addr - hit[0].base

    def count_string(self, items: int, write: bool) -> None:
        """Count a run of `items` accesses moved through `string_device` (stats as if one
        by one)."""
        if write:
            self._writes += items
        else:
            self._reads += items

    def ranges(self) -> list[BusRange]:
        """The registered ranges in address order."""
        return [rng for rng, _ in self._entries]

    def stats(self) -> BusStats:
        """Access counts since the bus was made."""
        return BusStats(self._reads, self._writes, self._unclaimed)
