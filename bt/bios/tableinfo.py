"""What the firmware tables describe (machine type, RAM, the boot CPU) and their checksum."""

from __future__ import annotations

from dataclasses import dataclass

PC, ISAPC = "pc", "isapc"
LAPIC_VERSION = 0x14  # QEMU's local APIC version register (0x00050014), its low byte
IOAPIC_BASE = 0xFEC00000
IOAPIC_ID = 0
IOAPIC_VERSION = 0x11  # what SeaBIOS writes for QEMU's IOAPIC, on isapc too
LAPIC_BASE = 0xFEE00000


@dataclass(frozen=True, slots=True)
class Platform:
    """The machine the tables are written for: `machine` is "pc" or "isapc" (QEMU's names),
    `cpu_signature` and `cpu_features` the boot CPU's CPUID leaf 1 EAX and EDX, `apic`
    whether it has a local APIC (QEMU creates one when the CPU model reports it)."""

    machine: str
    ram_size: int
    cpu_signature: int
    cpu_features: int
    apic: bool

    @property
    def pc(self) -> bool:
        """Whether this is QEMU's pc machine (PCI, ACPI), not isapc."""
        return self.machine == PC


def checksum(data: bytes) -> int:
    """The byte that makes `data` plus it sum to 0 mod 256 (MP, ACPI, SMBIOS, PnP alike)."""
    return -sum(data) & 0xFF


def with_checksum(data: bytes, at: int) -> bytes:
    """`data` with its checksum byte at offset `at` set (the byte there counts as 0)."""
    out = bytearray(data)
    out[at] = 0
    out[at] = checksum(bytes(out))
    return bytes(out)
