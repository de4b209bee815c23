"""Bounds on the tests' work: guest-instruction limits, and the one hang guard in host seconds.

No test may fail because the machine is loaded, so no test limits a run by host time. A run is
bounded by guest work: `--max-insns` / `max_insns=`, about ten times what the guest executes.
Exact counting costs a Python call per executed block, so guests that execute millions of
instructions (ckernel, compute, kernelish, the platform stress run, the backstop's tick loop)
are bounded by their own program instead: under virtual time they do the same work on every
run. HANG_GUARD is for a process that truly hangs (a bug): no loaded machine gets near it.
"""

from __future__ import annotations

HANG_GUARD = 30 * 60.0  # seconds: subprocess timeouts, and Machine.run's for uncounted runs

# Guest instructions of each committed guest (`bt run G --stats --count-insns`), and the
# bound used where counting is affordable (None: bounded by the guest's own program).
GUEST_INSNS = {
    "control": 21_284,
    "demo": 18_345,
    "descriptors": 17_239,
    "escape": 7_979,
    "fidelity": 64_444,
    "fidelity16": 148_923,
    "flags": 14_613,
    "interrupts": 28_209,
    "io": 14_577,
    "isolation": 25_978,
    "pcdevices": 6_788,
    "platform": 28_776,
    "segments": 48_257,
    "smc": 23_671,
    "translate": 80_785,
    "usermode": 16_131,
    "csoverride": 43_260,
    "fpu": 82_721,
    "channels": 109_250,
    "sysenter": 37_003,
    "singlestep": 13_306,
    "debugregs": 10_148,
    "watchpoints": 43_300,
    "cpumodel": 220_987,  # the most of its --cpu variants (n270)
    "nx": 17_752,  # nx@n270
    "tasks": 58_979,  # tasks_ts (the most of the two)
    "fwtables": 98_735,  # isapc/fwtables (the most of its two machines)
    "pci": 132_377,  # on pc (isapc: fewer)
    "apic": 36_865,
}
# The paging guests (bt's --count-insns; pae runs one #PF more than on QEMU, which reads its
# PDPTEs at every walk: guests/README.md).
GUEST_INSNS |= {
    "paging": 37_763,
    "paging_user": 32_491,
    "paging_faults": 33_575,
    "pae": 32_332,
    "hhkernel": 60_980,
}
# 12 M, 371 M, 3.6 M, 34 M and 50 M instructions
UNCOUNTED = ("ckernel", "compute", "kernelish", "serialout", "serialpoll")


def insn_bound(guest: str) -> int | None:
    """The --max-insns bound for a committed guest, or None for the uncounted ones."""
    n = GUEST_INSNS.get(guest)
    return None if n is None else 10 * n + 100_000


def limit_args(guest: str) -> list[str]:
    """`bt run` options bounding the guest's work (none for the uncounted guests)."""
    n = insn_bound(guest)
    return [] if n is None else ["--max-insns", str(n)]
