"""How a run ends (RunResult and the process exit statuses) and the run loop's counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

EXIT_HALT = 0
EXIT_BAD_INPUT = 2
EXIT_CRASH = 4
EXIT_LIMIT = 6
EXIT_SIGNAL_BASE = 128  # a run ended by a signal exits 128 + its number, as a shell reports it

EXCEPTION_NAMES = {
    0: "#DE divide error",
    1: "#DB debug",
    3: "#BP breakpoint",
    4: "#OF overflow",
    5: "#BR bound range",
    6: "#UD invalid opcode",
    7: "#NM device not available",
    8: "#DF double fault",
    10: "#TS invalid TSS",
    11: "#NP segment not present",
    12: "#SS stack fault",
    13: "#GP general protection",
    14: "#PF page fault",
    16: "#MF x87 error",
    17: "#AC alignment check",
    18: "#MC machine check",
    19: "#XM SIMD error",
}


REAL_MODE_VECTOR = 0x100  # or-ed into a vector counted in real mode (bt/events.py)


def vector_name(vector: int) -> str:
    """`#GP general protection` for an exception vector, `vector N` otherwise; a real-mode
    delivery (REAL_MODE_VECTOR) is `INT 10h (real mode)`."""
    if vector & REAL_MODE_VECTOR:
        return f"INT {vector & 0xFF:02X}h (real mode)"
    return EXCEPTION_NAMES.get(vector, f"vector {vector}")


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended: `kind` is halt, exit-port, crash, limit or signal."""

    kind: str
    status: int
    message: str
    eip: int


@dataclass(frozen=True, slots=True)
class RunStats:
    """The run loop's counters (a snapshot)."""

    guest_insns: int | None  # counted only when instruction counting is on
    python_entries: int  # every time Python ran while the guest was running
    callouts: int
    slot_exits: int  # exits through an unchained slot
    emu_starts: int
    backstops: int  # emu_starts that ended because the backstop's budget ran out
    backstop_budget: int
    backstop_mode: str
    tlb_fills: int
    shadow_faults: int  # Unicorn's own #PFs on the shadow tables (bt/shadowpaging.py)
    smc_faults: int
    interrupts: dict[int, int]  # deliveries by vector
    wall_seconds: float


@dataclass(slots=True)
class Counters:
    """What the run loop's parts count while the guest runs."""

    callouts: int = 0
    slot_exits: int = 0
    emu_starts: int = 0
    backstops: int = 0
    smc: int = 0
    vectors: Counter[int] = field(default_factory=Counter)
