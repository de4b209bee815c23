"""The registry of the BIOS's services: which Service answers each vector's ROM entry.

Wiring (for the machine's builder): `rom.load().image` is mapped read-only at 0xF0000 (ROM_BASE);
`entry_services(ram_size, int13, counter)` maps the physical address of every marker in it
(each vector's entry and the reset entry) to the vector to put in BiosCall.vector and the
Service to call when the guest reaches it; on DONE execution goes on after the marker's two
bytes (the ROM's IRET returns to the caller), on WAIT the guest halts with interrupts on and
the marker runs again after the next interrupt, on Unsupported the monitor reports it and
returns CF set, AH = 0x86, on Reboot it ends the run or boots again.
"""

from __future__ import annotations

from bt.bios.api import BiosCall, Service, ServiceResult, Unsupported
from bt.bios.boot import RESET_VECTOR, BootFailure, Bootstrap, Reset
from bt.bios.clock import RtcIrq, TimeOfDay, TimerIrq
from bt.bios.keyboard import KeyboardInt16, KeyboardIrq, KeyboardIrqKey
from bt.bios.pcibios import PciBios, TimeOfDayAndPci
from bt.bios.printer import Printer
from bt.bios.rom import ROM_BASE, load
from bt.bios.serial import Serial
from bt.bios.stats import BiosCounter
from bt.bios.system import Equipment, MemorySize, System
from bt.bios.video import Video


def services(
    ram_size: int,
    int13: Service | None = None,
    counter: BiosCounter | None = None,
    machine: str = "pc",
) -> dict[int, Service]:
    """Vector -> service for every ROM entry. `int13` (bt/bios/int13.py) answers INT 13h and
    INT 40h (the diskette half SeaBIOS moves there); without it both report every call as
    unsupported. With `counter`, every call is counted. `machine` (pc, isapc): the PCI
    BIOS's answers that differ."""
    table: dict[int, Service] = {
        0x08: TimerIrq(),
        0x09: KeyboardIrq(),
        0x10: Video(),
        0x11: Equipment(),
        0x12: MemorySize(),
        0x14: Serial(),
        0x15: System(ram_size, machine),
        0x16: KeyboardInt16(),
        0x17: Printer(),
        0x18: BootFailure(),
        0x19: Bootstrap(),
        0x1A: TimeOfDayAndPci(TimeOfDay(), PciBios(machine)),
        0x70: RtcIrq(),
    }
    disk = int13 if int13 is not None else _NoDisks()
    table[0x13] = disk
    table[0x40] = disk
    if counter is not None:
        table = {vector: counter.wrap(service) for vector, service in table.items()}
    return table


def reset_service() -> Service:
    """The service of the ROM's reset entry."""
    return Reset()


def entry_services(
    ram_size: int,
    int13: Service | None = None,
    counter: BiosCounter | None = None,
    machine: str = "pc",
) -> dict[int, tuple[int, Service]]:
    """Physical address of each marker -> (vector, service): the entries, the continuation
    marker inside INT 09h's code (reached only when a guest hooks INT 15h; no INT frame is on
    top of the stack there, AL holds the key), and the reset entry, whose vector is
    RESET_VECTOR."""
    rom = load()
    table = services(ram_size, int13, counter, machine)
    out = {ROM_BASE + offset: (vector, table[vector]) for vector, offset in rom.entries.items()}
    # Not counted: the IRQ was, at its entry.
    out[ROM_BASE + rom.continuations[0x09]] = (0x09, KeyboardIrqKey())
    out[ROM_BASE + rom.reset_entry] = (RESET_VECTOR, reset_service())
    return out


class _NoDisks:
    """INT 13h/40h of a machine without the disk layer."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        ah = call.cpu.reg("ah")
        return Unsupported(call.vector, ah, f"INT {call.vector:02X}h AH={ah:02X}h (no disks)")
