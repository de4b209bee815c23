"""ACPI on the pc machine: the RSDP SeaBIOS puts in the F segment, an RSDT and QEMU's MADT.

Measured under QEMU 7.2 / SeaBIOS 1.16.2 (-M pc, -m 128): the RSDP ("BOCHS ", revision 0) at
0xF59D0, 32 bytes below the SMBIOS entry point (bt/bios/smbios.py); QEMU's tables
(hw/i386/acpi-build.c, copied by SeaBIOS's table loader) in the top 128 KiB of low RAM,
which the E820 map reserves: FACS at its start, then DSDT, FACP, APIC (the MADT) at +0x1A00,
HPET, WAET and the RSDT at +0x1AD8, each with OEM "BOCHS "/"BXPC" (the same offsets at -m 16,
512 and 3584).

Written here: the RSDP, the MADT and an RSDT listing the MADT alone, at QEMU's addresses. Left
out: the FADT with its FACS and DSDT (they describe PIIX4's ACPI power-management registers,
the SCI and the AML of every device, which this machine does not have), HPET (no HPET) and
WAET. isapc has no ACPI (Linux: "A valid RSDP was not found").
"""

from __future__ import annotations

import struct

from bt.bios.memmap import ram_end
from bt.bios.smbios import fseg_below
from bt.bios.tableinfo import IOAPIC_BASE, IOAPIC_ID, LAPIC_BASE, Platform, with_checksum

RSDP_SIZE = 20
OEM_ID = b"BOCHS "
OEM_TABLE_ID = b"BXPC    "
CREATOR = b"BXPC"
MADT_OFFSET = 0x1A00  # from the start of the high zone (QEMU's layout at -m 128)
RSDT_OFFSET = 0x1AD8
HEADER_SIZE = 36
PCAT_COMPAT = 1  # MADT flags: the machine has 8259s too
# Interrupt source overrides (bus 0 = ISA): IRQ 0 on GSI 2, and the PCI interrupt lines 5, 9,
# 10 and 11 level-triggered, active high (flags 0x000D), as QEMU's build_madt lists them.
OVERRIDES = ((0, 2, 0x0000), (5, 5, 0x000D), (9, 9, 0x000D), (10, 10, 0x000D), (11, 11, 0x000D))


def sdt(signature: bytes, revision: int, body: bytes) -> bytes:
    """A system description table: QEMU's header (OEM, revision 1s, creator BXPC) + `body`."""
    header = struct.pack(
        "<4sIBB6s8sI4sI",
        signature, HEADER_SIZE + len(body), revision, 0, OEM_ID, OEM_TABLE_ID, 1, CREATOR, 1,
    )  # fmt: skip
    return with_checksum(header + body, 9)


def madt() -> bytes:
    """The MADT of one CPU: its local APIC, the IOAPIC, the overrides, the NMI on LINT1."""
    entries = [struct.pack("<BBBBI", 0, 8, 0, 0, 1)]  # processor 0, APIC id 0, enabled
    entries.append(struct.pack("<BBBBII", 1, 12, IOAPIC_ID, 0, IOAPIC_BASE, 0))
    for irq, gsi, flags in OVERRIDES:
        entries.append(struct.pack("<BBBBIH", 2, 10, 0, irq, gsi, flags))
    entries.append(struct.pack("<BBBHB", 4, 6, 0xFF, 0, 1))  # every processor, LINT1
    return sdt(b"APIC", 1, struct.pack("<II", LAPIC_BASE, PCAT_COMPAT) + b"".join(entries))


def rsdt(tables: tuple[int, ...]) -> bytes:
    """The RSDT listing `tables` (physical addresses)."""
    return sdt(b"RSDT", 1, b"".join(struct.pack("<I", t) for t in tables))


def rsdp(rsdt_addr: int) -> bytes:
    """The 20-byte ACPI 1.0 root pointer."""
    return with_checksum(struct.pack("<8sB6sBI", b"RSD PTR ", 0, OEM_ID, 0, rsdt_addr), 8)


def acpi_tables(platform: Platform, below: int) -> tuple[tuple[int, bytes], ...]:
    """(address, bytes) of the RSDP (allocated below the address `below`, the SMBIOS entry
    point), MADT and RSDT; none on isapc."""
    if not platform.pc:
        return ()
    zone = ram_end(platform.ram_size)
    madt_addr, rsdt_addr = zone + MADT_OFFSET, zone + RSDT_OFFSET
    return (
        (fseg_below(below, RSDP_SIZE), rsdp(rsdt_addr)),
        (madt_addr, madt()),
        (rsdt_addr, rsdt((madt_addr,))),
    )
