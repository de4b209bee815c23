"""Page tables in a bytearray RAM for the walker's tests (tests/test_paging_*.py)."""

from __future__ import annotations

import pytest

from bt.paging import (
    CR0_PE,
    CR0_PG,
    CR0_WP,
    CR4_PAE,
    CR4_PSE,
    EFER_NXE,
    FETCH,
    READ,
    WRITE,
    PageFault,
    PageWalker,
)

P, RW, US, A, D, PS = 1, 2, 4, 0x20, 0x40, 0x80
NX = 1 << 63
PG = CR0_PG | CR0_PE
PD, PT, PT2 = 0x1000, 0x2000, 0x3000  # 32-bit tables
PDPT, PAE_PD, PAE_PT = 0x4FE0, 0x5000, 0x6000  # PAE: the PDPT is only 32-byte aligned
ACCESSES = (READ, WRITE, FETCH)


class Ram:
    """Guest-physical RAM in a bytearray; records the walker's writes."""

    def __init__(self, size: int = 0x10000) -> None:
        self.mem = bytearray(size)
        self.writes: list[tuple[int, int]] = []

    def read_u32(self, phys: int) -> int:
        return int.from_bytes(self.mem[phys : phys + 4], "little")

    def read_u64(self, phys: int) -> int:
        return int.from_bytes(self.mem[phys : phys + 8], "little")

    def write_u32(self, phys: int, value: int) -> None:
        self.writes.append((phys, value))
        self.mem[phys : phys + 4] = value.to_bytes(4, "little")

    def put32(self, phys: int, value: int) -> None:
        self.mem[phys : phys + 4] = value.to_bytes(4, "little")

    def put64(self, phys: int, value: int) -> None:
        self.mem[phys : phys + 8] = value.to_bytes(8, "little")


def walker32(ram: Ram, *, pse: bool = False, wp: bool = False) -> PageWalker:
    w = PageWalker(ram)
    w.set_mode(PG | (CR0_WP if wp else 0), PD | 0x18, CR4_PSE if pse else 0)  # PWT/PCD ignored
    return w


def walker_pae(
    ram: Ram, *, wp: bool = False, nx: bool = False, nxe: bool = False, maxphyaddr: int = 32
) -> PageWalker:
    w = PageWalker(ram, nx=nx, maxphyaddr=maxphyaddr)
    w.set_mode(PG | (CR0_WP if wp else 0), PDPT, CR4_PAE, EFER_NXE if nxe else 0)
    return w


def fault(w: PageWalker, linear: int, access: int = READ, user: bool = False) -> int:
    with pytest.raises(PageFault) as exc:
        w.translate(linear, access, user)
    assert exc.value.linear == linear
    return exc.value.error_code


def pae_map4k(ram: Ram, linear: int, pte: int, pde_flags: int = P | RW | US) -> None:
    """PDPTE 0 -> PAE_PD; the PDE of `linear` -> PAE_PT; its PTE = `pte`."""
    assert linear < 1 << 30
    ram.put64(PDPT, PAE_PD | P)
    ram.put64(PAE_PD + ((linear >> 21) & 0x1FF) * 8, PAE_PT | pde_flags)
    ram.put64(PAE_PT + ((linear >> 12) & 0x1FF) * 8, pte)
