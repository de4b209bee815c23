"""Geometry: a disk's cylinders, heads and sectors per track, and CHS <-> LBA as a BIOS counts."""

from __future__ import annotations

from dataclasses import dataclass

SECTOR_SIZE = 512


@dataclass(frozen=True, slots=True)
class Geometry:
    """Cylinders x heads x sectors per track; sectors count from 1, cylinders and heads from 0."""

    cylinders: int
    heads: int
    sectors: int

    @property
    def total(self) -> int:
        """The number of sectors this geometry addresses."""
        return self.cylinders * self.heads * self.sectors

    def contains(self, cylinder: int, head: int, sector: int) -> bool:
        """Whether C/H/S names a sector of this geometry."""
        return (
            0 <= cylinder < self.cylinders
            and 0 <= head < self.heads
            and 1 <= sector <= self.sectors
        )

    def to_lba(self, cylinder: int, head: int, sector: int) -> int:
        """The LBA of C/H/S (SeaBIOS basic_access: (c * heads + h) * spt + s - 1)."""
        return (cylinder * self.heads + head) * self.sectors + sector - 1

    def to_chs(self, lba: int) -> tuple[int, int, int]:
        """C/H/S of an LBA (SeaBIOS hw/floppy.c lba2chs); the cylinder may exceed the geometry's
        when the LBA does."""
        track, sector0 = divmod(lba, self.sectors)
        cylinder, head = divmod(track, self.heads)
        return cylinder, head, sector0 + 1
