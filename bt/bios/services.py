"""The registry of the BIOS's services: which Service answers each vector's ROM entry.

Wiring (for the machine's builder): `rom.load()` gives the image to map at 0xF0000 (and its
last 64 KiB alias below 4 GiB if wanted) and `entries` (vector -> marker offset in F000);
`services(ram_size, int13)` gives vector -> Service for every entry; the run-time calls the
service when the guest reaches F000:entries[v] and continues after the marker on DONE.
`reset_service()` answers the reset entry (`rom.load().reset_entry`).
"""

from __future__ import annotations

from bt.bios.api import Service
from bt.bios.boot import BootFailure, Bootstrap, Reset
from bt.bios.clock import TimeOfDay, TimerIrq
from bt.bios.keyboard import KeyboardInt16, KeyboardIrq
from bt.bios.printer import Printer
from bt.bios.serial import Serial
from bt.bios.stats import BiosCounter
from bt.bios.system import Equipment, MemorySize, System
from bt.bios.video import Video


def services(
    ram_size: int,
    int13: Service | None = None,
    counter: BiosCounter | None = None,
) -> dict[int, Service]:
    """Vector -> service. `int13` (bt/bios/int13.py) answers INT 13h and INT 40h (the
    diskette half SeaBIOS moves there); without it those two vectors have no service and
    the run-time reports them as unsupported. With `counter`, every call is counted."""
    table: dict[int, Service] = {
        0x08: TimerIrq(),
        0x09: KeyboardIrq(),
        0x10: Video(),
        0x11: Equipment(),
        0x12: MemorySize(),
        0x14: Serial(),
        0x15: System(ram_size),
        0x16: KeyboardInt16(),
        0x17: Printer(),
        0x18: BootFailure(),
        0x19: Bootstrap(),
        0x1A: TimeOfDay(),
    }
    if int13 is not None:
        table[0x13] = int13
        table[0x40] = int13
    if counter is not None:
        table = {vector: counter.wrap(service) for vector, service in table.items()}
    return table


def reset_service() -> Service:
    """The service of the ROM's reset entry."""
    return Reset()
