"""The PIIX4 power-management function QEMU's pc puts at 00:01.3 (8086:7113) at the OS's entry."""

from __future__ import annotations

from bt.devices.pcifunction import (
    INTERRUPT_LINE,
    Identity,
    PciFunction,
    config_space,
    firmware_left,
)

IDENTITY = Identity(0x8086, 0x7113, 0x03, 0x068000, interrupt_pin=1, status=0x0280)
PMBA = 0x40  # the PM I/O base (bit 0: I/O space); SeaBIOS: 0x600
PMREGMISC = 0x80  # bit 0: the PM I/O space enabled
SMBBA = 0x90  # the SMBus I/O base; SeaBIOS: 0x700
SCI_IRQ = 9  # the interrupt line SeaBIOS writes (ACPI's SCI)
# QEMU's piix4_pm reset values (DEVACTB 0x5B, DEVRESD 0x5F, DEVRESE? 0x63, DEVRESJ 0x67) and
# SeaBIOS's writes (PMBA, PMREGMISC, SMBBA, SMBHSTCFG 0xD2 = host enabled, SMI).
AT_ENTRY: dict[int, int] = {
    0x40: 0x01,
    0x41: 0x06,
    0x5B: 0x02,
    0x5F: 0x90,
    0x63: 0x60,
    0x67: 0x08,
    0x80: 0x01,
    0x90: 0x01,
    0x91: 0x07,
    0xD2: 0x09,
}


def piix4_pm() -> PciFunction:
    """The PM function's configuration space at the OS's entry."""
    fn = PciFunction("piix4-pm", config_space(IDENTITY))
    return firmware_left(fn, {INTERRUPT_LINE: SCI_IRQ} | AT_ENTRY)
