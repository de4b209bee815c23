"""Debug-register breakpoints: which linear addresses DR0-DR3 and DR7 make instruction
breakpoints, and the DR6 a hit leaves (Intel SDM vol. 3, 18.2; QEMU 7.2's bpt_helper.c)."""

from __future__ import annotations

from collections.abc import Sequence

_EXEC, _IO = 0, 2  # DR7 R/W field values: instruction execution, I/O (with CR4.DE)


def instruction_breakpoints(dr: Sequence[int]) -> frozenset[int]:
    """The linear addresses DR7 enables (L or G) as instruction breakpoints."""
    dr7 = dr[7]
    return frozenset(
        dr[n] & 0xFFFFFFFF
        for n in range(4)
        if (dr7 >> (2 * n)) & 3 and (dr7 >> (16 + 4 * n)) & 3 == _EXEC
    )


def unsupported_breakpoint(dr: Sequence[int]) -> str | None:
    """What an enabled breakpoint asks for that the engine does not do yet, if anything."""
    dr7 = dr[7]
    for n in range(4):
        if (dr7 >> (2 * n)) & 3:
            rw = (dr7 >> (16 + 4 * n)) & 3
            if rw != _EXEC:
                kind = "an I/O" if rw == _IO else "a data"
                return f"{kind} breakpoint (DR7 R/W{n}={rw})"
    return None


def hit_dr6(dr: Sequence[int], linear: int) -> int:
    """DR6 after an instruction breakpoint at `linear`: B0-B3 say which registers match."""
    hits = sum(
        1 << n
        for n in range(4)
        if (dr[7] >> (16 + 4 * n)) & 3 == _EXEC and dr[n] & 0xFFFFFFFF == linear
    )
    return (dr[6] & ~0xF) | hits
