"""The Intel MP table (floating pointer and configuration table) as SeaBIOS's mptable.c writes it.

Measured under QEMU 7.2 / SeaBIOS 1.16.2 (-m 128, one CPU, -nic none) from a Multiboot guest
that dumped 0xE0000-0xFFFFF: the floating pointer at 0xF5BA0 on pc and 0xF6930 on isapc, the
configuration table right after it ("BOCHSCPU", "0.1", spec 1.4): one processor entry (local
APIC version and "enabled" only with an APIC), a PCI bus 0 and ISA bus 1 on pc, ISA bus 0 on
isapc, the IOAPIC (id 0, version 0x11, 0xFEC00000) on both, an I/O interrupt entry per PCI
function with an interrupt pin (pc), one per ISA IRQ but 2, 5, 9, 10 and 11 (SeaBIOS's PCI
IRQs) with IRQ 0 on IOAPIC pin 2, then ExtINT on LINT0 and NMI on LINT1 of every local APIC.
"""

from __future__ import annotations

import struct

from bt.bios.tableinfo import (
    IOAPIC_BASE,
    IOAPIC_ID,
    IOAPIC_VERSION,
    LAPIC_BASE,
    LAPIC_VERSION,
    Platform,
    with_checksum,
)

FLOAT_PC = 0xF5BA0
FLOAT_ISAPC = 0xF6930
FLOAT_SIZE = 16
OEM_ID = b"BOCHSCPU"
PRODUCT_ID = b"0.1".ljust(12)
SPEC_REV = 4  # MP specification 1.4
PCI_IRQ_MASK = 0x0E20  # IRQs 5, 9, 10, 11: the PCI interrupt lines, no ISA entry
# PCI functions with an interrupt pin on QEMU's pc machine without a NIC: (device, pin (0 = A),
# IRQ). PIIX4's power management function 00:01.3 raises the SCI on IRQ 9.
PCI_IRQS_PC = ((1, 0, 9),)
INT, EXTINT, NMI = 0, 3, 1
PCI_IRQ_FLAGS = 0x0001  # as SeaBIOS writes them (measured)


def float_address(platform: Platform) -> int:
    """Where SeaBIOS puts the floating pointer on this machine."""
    return FLOAT_PC if platform.pc else FLOAT_ISAPC


def config_table(platform: Platform) -> bytes:
    """The configuration table: header and entries, checksummed."""
    entries = [_processor(platform)]
    if platform.pc:
        pci_bus, isa_bus = 0, 1
        entries.append(_bus(pci_bus, b"PCI"))
    else:
        isa_bus = 0
    entries.append(_bus(isa_bus, b"ISA"))
    entries.append(struct.pack("<BBBBI", 2, IOAPIC_ID, IOAPIC_VERSION, 1, IOAPIC_BASE))
    if platform.pc:
        for device, pin, irq in PCI_IRQS_PC:
            entries.append(_interrupt(3, INT, PCI_IRQ_FLAGS, 0, device << 2 | pin, irq))
    for irq in range(16):
        if PCI_IRQ_MASK >> irq & 1 or irq == 2:
            continue
        entries.append(_interrupt(3, INT, 0, isa_bus, irq, 2 if irq == 0 else irq))
    entries.append(_interrupt(4, EXTINT, 0, isa_bus, 0, 0, apic=0))
    entries.append(_interrupt(4, NMI, 0, isa_bus, 0, 1, apic=0xFF))
    body = b"".join(entries)
    header = struct.pack(
        "<4sHBB8s12sIHHIHBB",
        b"PCMP", 44 + len(body), SPEC_REV, 0, OEM_ID, PRODUCT_ID, 0, 0, len(entries),
        LAPIC_BASE, 0, 0, 0,
    )  # fmt: skip
    return with_checksum(header + body, 7)


def floating_pointer(config_addr: int) -> bytes:
    """The 16-byte "_MP_" structure pointing at the configuration table, no default config."""
    data = struct.pack("<4sIBBB5s", b"_MP_", config_addr, 1, SPEC_REV, 0, bytes(5))
    return with_checksum(data, 10)


def mp_table(platform: Platform) -> tuple[int, bytes]:
    """(address, bytes): the floating pointer with the configuration table right after it."""
    at = float_address(platform)
    return at, floating_pointer(at + FLOAT_SIZE) + config_table(platform)


def _processor(platform: Platform) -> bytes:
    version = LAPIC_VERSION if platform.apic else 0
    flags = (0x01 if platform.apic else 0) | 0x02  # enabled (an APIC answered), bootstrap
    return struct.pack(
        "<BBBBII8s", 0, 0, version, flags, platform.cpu_signature, platform.cpu_features, bytes(8)
    )


def _bus(bus: int, name: bytes) -> bytes:
    return struct.pack("<BB6s", 1, bus, name.ljust(6))


def _interrupt(
    kind: int, irqtype: int, flags: int, bus: int, source: int, dest: int, apic: int = IOAPIC_ID
) -> bytes:
    """An I/O (kind 3, to IOAPIC `apic` pin `dest`) or local (kind 4, LINT`dest`) interrupt."""
    return struct.pack("<BBHBBBB", kind, irqtype, flags, bus, source, apic, dest)
