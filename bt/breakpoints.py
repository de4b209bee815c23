"""Debug-register breakpoints: what DR0-DR3 and DR7 enable (instruction, data and I/O
breakpoints), which of them an access matches and the DR6 a hit leaves (Intel SDM vol. 3,
17.2; QEMU 7.2's bpt_helper.c)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

_EXEC, _WRITE, _IO, _ACCESS = 0, 1, 2, 3  # DR7 R/W field values
# DR7 LEN field -> bytes: 00 one, 01 two, 11 four, 10 eight (QEMU takes 8 on every model).
_LEN = (1, 2, 8, 4)


@dataclass(frozen=True, slots=True)
class Watch:
    """An enabled data or I/O breakpoint: DRn covers [start, start + size)."""

    n: int  # 0-3: its B bit in DR6
    start: int  # linear address or port, aligned down to `size` (SDM 17.2.5)
    size: int
    writes_only: bool  # R/W = 01: data writes only (11: reads and writes; I/O: both)

    def covers(self, addr: int, size: int) -> bool:
        """Whether an access of `size` bytes at `addr` touches the range."""
        return addr < self.start + self.size and self.start < addr + size


def _enabled(dr7: int, n: int) -> bool:
    return bool((dr7 >> (2 * n)) & 3)


def _rw(dr7: int, n: int) -> int:
    return (dr7 >> (16 + 4 * n)) & 3


def _watch(dr: Sequence[int], n: int) -> Watch:
    size = _LEN[(dr[7] >> (18 + 4 * n)) & 3]
    # "The processor uses LENn field bits to mask the lower address bits" (SDM 17.2.5);
    # QEMU 7.2 takes DRn as it is (guests/watchpoints.asm, after its qemu_differs label).
    start = dr[n] & 0xFFFFFFFF & ~(size - 1)
    return Watch(n, start, size, _rw(dr[7], n) == _WRITE)


def instruction_breakpoints(dr: Sequence[int]) -> frozenset[int]:
    """The linear addresses DR7 enables (L or G) as instruction breakpoints."""
    dr7 = dr[7]
    return frozenset(
        dr[n] & 0xFFFFFFFF for n in range(4) if _enabled(dr7, n) and _rw(dr7, n) == _EXEC
    )


def data_watches(dr: Sequence[int]) -> tuple[Watch, ...]:
    """The enabled data breakpoints (R/W = 01 or 11). A disabled one never sets its B bit:
    QEMU 7.2 inserts watchpoints for enabled registers only."""
    dr7 = dr[7]
    return tuple(
        _watch(dr, n) for n in range(4) if _enabled(dr7, n) and _rw(dr7, n) in (_WRITE, _ACCESS)
    )


def io_watches(dr: Sequence[int]) -> tuple[Watch, ...]:
    """The enabled I/O breakpoints (R/W = 10). The SDM leaves the encoding undefined while
    CR4.DE is clear; QEMU 7.2 takes it as an I/O breakpoint all the same, and so does bt."""
    dr7 = dr[7]
    return tuple(_watch(dr, n) for n in range(4) if _enabled(dr7, n) and _rw(dr7, n) == _IO)


def data_hits(watches: Sequence[Watch], linear: int, size: int, write: bool) -> int:
    """B0-B3 of the data breakpoints a memory access matches (every one, as the SDM says;
    QEMU 7.2 reports only the first)."""
    return sum(1 << w.n for w in watches if (write or not w.writes_only) and w.covers(linear, size))


def io_hits(watches: Sequence[Watch], port: int, size: int) -> int:
    """B0-B3 of the I/O breakpoints a port access matches."""
    return sum(1 << w.n for w in watches if w.covers(port, size))


def hit_dr6(dr: Sequence[int], linear: int) -> int:
    """DR6 after an instruction breakpoint at `linear`: B0-B3 say which registers match."""
    hits = sum(1 << n for n in range(4) if _rw(dr[7], n) == _EXEC and dr[n] & 0xFFFFFFFF == linear)
    return (dr[6] & ~0xF) | hits


def trap_dr6(dr6: int, hits: int) -> int:
    """DR6 after a data or I/O breakpoint trap: B0-B3 replaced by the hits (BS, BD and BT
    stay, as on QEMU)."""
    return (dr6 & ~0xF) | hits
