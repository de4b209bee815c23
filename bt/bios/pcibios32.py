"""The 32-bit firmware interfaces SeaBIOS 1.16.2 gives QEMU's pc and isapc: the BIOS32 service
directory ("_32_"), the PCI BIOS's 32-bit entry, and the $PIR routing table, each at its address.

SeaBIOS's images differ per machine (bios-256k.bin on pc, bios.bin on isapc), and so do these
addresses (measured under QEMU 7.2: the headers found by scanning 0xE0000-0xFFFFF, the entries
they name); Linux prints the PCI BIOS's ("PCI BIOS revision 2.10 entry at 0xfd30a" on isapc).
The built-in ROM holds the entry code of both machines (rom.asm: marker, RETF); the headers and
the table are written into the image of the machine that runs, in space the ROM leaves free.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bt.bios.api import BiosCall, Outcome, Service, ServiceResult
from bt.bios.pcibios import EXCLUSIVE_IRQS, PciBios, pir_slots
from bt.bios.rom import MARKER, ROM_BASE, ROM_SIZE
from bt.errors import InternalError

SERVICE_PCI = 0x49435024  # "$PCI"
UNKNOWN_SERVICE = 0x80
PIR_ROUTER_DEVFN = 0x08  # the PIIX3 at 00:01.0
PIR_COMPATIBLE_ROUTER = 0x122E8086  # SeaBIOS names the PIIX (8086:122E) as compatible


@dataclass(frozen=True, slots=True)
class Layout:
    """Where one machine's SeaBIOS puts them (physical addresses)."""

    bios32_header: int
    bios32_entry: int
    pcibios_entry: int
    pir_table: int


LAYOUTS = {
    "pc": Layout(0xF6040, 0xFD26C, 0xFD1CA, 0xF5C80),
    "isapc": Layout(0xF6DC0, 0xFD3AC, 0xFD30A, 0xF6A00),
}


def _checksummed(data: bytes, at: int) -> bytes:
    """`data` with byte `at` set so that all of it sums to 0 mod 256."""
    out = bytearray(data)
    out[at] = (-sum(out)) & 0xFF
    return bytes(out)


def bios32_header(entry: int) -> bytes:
    """The 16-byte BIOS32 service directory header: "_32_", the entry, revision 0, length 1
    (paragraphs), checksum, five reserved bytes."""
    return _checksummed(b"_32_" + struct.pack("<IBBB5x", entry, 0, 1, 0), 10)


def pir_table() -> bytes:
    """SeaBIOS's $PIR table: version 1.0, its size, the router (bus 0, devfn 0x08), the
    exclusive IRQs, the compatible router ID, no miniport data, 11 reserved bytes, the
    checksum (byte 31), then the slots."""
    slots = pir_slots()
    header = struct.pack(
        "<4sHHBBHII11xB",
        b"$PIR",
        0x0100,
        32 + len(slots),
        0,
        PIR_ROUTER_DEVFN,
        EXCLUSIVE_IRQS,
        PIR_COMPATIBLE_ROUTER,
        0,
        0,
    )
    return _checksummed(header + slots, 31)


def rom_image(image: bytes, machine: str) -> bytes:
    """The ROM `image` for `machine`: its BIOS32 header and $PIR table written where that
    machine's SeaBIOS has them (into free space: bytes the ROM fills with 0xFF), the last
    byte set again so the 64 KiB still sum to 0."""
    layout = LAYOUTS[machine]
    out = bytearray(image)
    for addr, data in (
        (layout.bios32_header, bios32_header(layout.bios32_entry)),
        (layout.pir_table, pir_table()),
    ):
        at = addr - ROM_BASE
        if out[at : at + len(data)] != b"\xff" * len(data):
            raise InternalError(f"BIOS ROM: 0x{addr:05x} is not free for {data[:4]!r}")
        out[at : at + len(data)] = data
    for entry in (layout.bios32_entry, layout.pcibios_entry):
        if out[entry - ROM_BASE : entry - ROM_BASE + 2] != MARKER:
            raise InternalError(f"BIOS ROM: no 32-bit entry marker at 0x{entry:05x}")
    out[-1] = 0
    out[-1] = (-sum(out)) & 0xFF
    assert len(out) == ROM_SIZE
    return bytes(out)


class Bios32Directory:
    """The BIOS32 service directory's entry: EAX "$PCI" answers AL = 0, EBX the base, ECX the
    length and EDX the entry's offset from the base (Linux calls base + offset); any other
    service AL = 80h."""

    def __init__(self, machine: str) -> None:
        self._entry = LAYOUTS[machine].pcibios_entry

    def __call__(self, call: BiosCall) -> ServiceResult:
        cpu = call.cpu
        if cpu.reg("eax") != SERVICE_PCI:
            cpu.set_reg("al", UNKNOWN_SERVICE)
            return Outcome.DONE
        cpu.set_reg("al", 0)
        cpu.set_reg("ebx", ROM_BASE)
        cpu.set_reg("ecx", ROM_SIZE)
        cpu.set_reg("edx", self._entry - ROM_BASE)
        return Outcome.DONE


def protected_entries(machine: str) -> dict[int, Service]:
    """Physical address -> service of the 32-bit entries `machine`'s firmware has."""
    layout = LAYOUTS[machine]
    return {
        layout.bios32_entry: Bios32Directory(machine),
        layout.pcibios_entry: PciBios(machine),
    }
