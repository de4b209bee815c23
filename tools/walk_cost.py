"""Cost of one guest page walk (bt/paging.py) in Python, as the TLB-fill hook will pay it.

    python tools/walk_cost.py [--number N] [--repeat R]

Times PageWalker.translate with timeit over a bytearray RAM read through memoryviews (aligned
u32/u64 loads, about what a direct view of guest RAM costs): 4 KiB and 4 MiB walks under 32-bit
paging and 4 KiB and 2 MiB walks under PAE, each with the A/D bits already set (the common
refill: nothing is written) and with them clear (the first touch: A on the PDE, A/D on the
leaf). Prints the best of R repeats of N walks (CPU time), in ns per walk.
"""

from __future__ import annotations

import argparse
import time
import timeit
from collections.abc import Callable

from bt.paging import CR0_PE, CR0_PG, CR4_PAE, CR4_PSE, READ, WRITE, PageWalker


class ViewRam:
    """Guest RAM in a bytearray, read through u32/u64 memoryviews (page-table entries are
    aligned)."""

    def __init__(self, size: int) -> None:
        self.mem = bytearray(size)
        self._u32 = memoryview(self.mem).cast("I")
        self._u64 = memoryview(self.mem).cast("Q")

    def read_u32(self, phys: int) -> int:
        return int(self._u32[phys >> 2])

    def read_u64(self, phys: int) -> int:
        return int(self._u64[phys >> 3])

    def write_u32(self, phys: int, value: int) -> None:
        self._u32[phys >> 2] = value


PD, PT, PDPT, PAE_PD, PAE_PT = 0x1000, 0x2000, 0x3000, 0x4000, 0x5000
ENTRY = 0x7  # present, writable, user
CLEAN = 0x60  # A and D: cleared before each first-touch walk


def _tables() -> ViewRam:
    ram = ViewRam(0x8000)
    ram.write_u32(PD, PT | ENTRY | 0x20)
    ram.write_u32(PT + 4, 0x9000 | ENTRY | 0x60)
    ram.write_u32(PD + 4, 0x0080_0000 | ENTRY | 0x80 | 0x60)  # 4 MiB
    ram.write_u32(PDPT, PAE_PD | 1)
    ram.write_u32(PAE_PD, PAE_PT | ENTRY | 0x20)
    ram.write_u32(PAE_PT + 8, 0x9000 | ENTRY | 0x60)
    ram.write_u32(PAE_PD + 8, 0x0040_0000 | ENTRY | 0x80 | 0x60)  # 2 MiB
    return ram


def _repeat(stmt: Callable[[], object], number: int, repeat: int) -> list[float]:
    # CPU time of this process, not wall time: the machine is shared, and a walk that loses
    # the CPU to another process did not cost more.
    return timeit.repeat(stmt, number=number, repeat=repeat, timer=time.process_time)


def _case(
    ram: ViewRam, w: PageWalker, linear: int, entries: tuple[int, ...], number: int, repeat: int
) -> tuple[float, float]:
    """ns per walk: with A/D set (a read), and a write with A/D clear (minus the clearing)."""
    walk = w.translate

    def reset() -> None:
        for e in entries:
            ram.write_u32(e, ram.read_u32(e) & ~CLEAN)

    def first_touch() -> None:
        reset()
        walk(linear, WRITE, False)

    steady = min(_repeat(lambda: walk(linear, READ, False), number, repeat))
    touch = min(_repeat(first_touch, number, repeat)) - min(_repeat(reset, number, repeat))
    return steady / number * 1e9, touch / number * 1e9


def measure(number: int, repeat: int) -> list[tuple[str, float]]:
    """(case, ns per walk) for each case."""
    ram = _tables()
    w32 = PageWalker(ram)
    w32.set_mode(CR0_PG | CR0_PE, PD, CR4_PSE)
    wpae = PageWalker(ram)
    wpae.set_mode(CR0_PG | CR0_PE, PDPT, CR4_PAE)
    cases = [
        ("32-bit 4 KiB", w32, 0x0000_1234, (PD, PT + 4)),
        ("32-bit 4 MiB", w32, 0x0040_1234, (PD + 4,)),
        ("PAE 4 KiB", wpae, 0x0000_1234, (PAE_PD, PAE_PT + 8)),
        ("PAE 2 MiB", wpae, 0x0020_1234, (PAE_PD + 8,)),
    ]
    out = []
    for name, w, linear, entries in cases:
        steady, touch = _case(ram, w, linear, entries, number, repeat)
        out += [(f"{name}, A/D set", steady), (f"{name}, first write (A/D clear)", touch)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    for name, ns in measure(args.number, args.repeat):
        print(f"{name:36s} {ns:7.0f} ns")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
