"""The deadline of a BIOS call that waits (INT 15h AH=86h, INT 14h reads and writes), kept in
the EBDA so a snapshot of guest memory holds it and the services stay stateless.

A waiting service returns WAIT; the monitor halts until an interrupt and calls it again, and
the service looks here whether its deadline has passed. `pending_deadline_ns` lets the run
loop wake the halted guest at the deadline (as a timer event) instead of at the next IRQ.
SeaBIOS keeps its own wait state in the BDA (0x498-0x4A0) and the RTC; these EBDA bytes are
this BIOS's, past the fields SeaBIOS's EBDA uses.
"""

from __future__ import annotations

from bt.bios import bda
from bt.bios.api import PhysMemory

SLOT = bda.EBDA + 0x3F0  # deadline (8 bytes), vector, AH, active flag
NS_PER_TICK = 65536 * 1_000_000_000 // 1_193_182  # one 18.2 Hz BIOS tick


def start(mem: PhysMemory, vector: int, ah: int, deadline_ns: int) -> None:
    """A call of `vector`/`ah` begins waiting until `deadline_ns`."""
    mem.write_phys(SLOT, deadline_ns.to_bytes(8, "little") + bytes((vector, ah, 1)))


def deadline(mem: PhysMemory, vector: int, ah: int) -> int | None:
    """The deadline of the waiting call of `vector`/`ah`, or None if it is not waiting."""
    raw = mem.read_phys(SLOT, 11)
    if raw[10] != 1 or raw[8] != vector or raw[9] != ah:
        return None
    return int.from_bytes(raw[:8], "little")


def finish(mem: PhysMemory) -> None:
    """The waiting call completed: the slot is zero again, as the EBDA is after POST."""
    mem.write_phys(SLOT, bytes(11))


def pending_deadline_ns(mem: PhysMemory) -> int | None:
    """When the waiting call (if any) completes at the latest: a wake-up time for the halt."""
    raw = mem.read_phys(SLOT, 11)
    return int.from_bytes(raw[:8], "little") if raw[10] == 1 else None


def wait_until(mem: PhysMemory, vector: int, ah: int, now_ns: int, length_ns: int) -> bool:
    """True once `length_ns` have passed since the first of the repeated calls of `vector`/
    `ah`; the first call starts the wait."""
    end = deadline(mem, vector, ah)
    if end is None:
        end = now_ns + length_ns
        start(mem, vector, ah, end)
    if now_ns >= end:
        finish(mem)
        return True
    return False
