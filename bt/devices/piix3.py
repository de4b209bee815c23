"""The PIIX3 ISA bridge (00:01.0, 8086:7000): PIRQ routing, and reset control at port 0xCF9."""

from __future__ import annotations

from collections.abc import Callable

from bt.devices.pcifunction import Identity, PciFunction, config_space, firmware_left

PIRQ_ROUTE = 0x60  # PIRQRC[A:D], 0x60-0x63: bit 7 set disables, bits 0-3 the ISA IRQ
IDENTITY = Identity(0x8086, 0x7000, 0x00, 0x060100, header_type=0x80, status=0x0200)
# QEMU's piix3_reset values (IORT, XBCS, TOM, MBIRQ0, MBDMA, PCSC, SMICNTL, SMIREQ...) and the
# PIRQ routing SeaBIOS writes (PIRQA/B to IRQ 10, PIRQC/D to IRQ 11).
AT_ENTRY: dict[int, int] = {
    0x4C: 0x4D,
    0x4E: 0x03,
    0x60: 0x0A,
    0x61: 0x0A,
    0x62: 0x0B,
    0x63: 0x0B,
    0x69: 0x02,
    0x70: 0x80,
    0x76: 0x0C,
    0x77: 0x0C,
    0x78: 0x02,
    0xA0: 0x08,
    0xA8: 0x0F,
}


def piix3_isa() -> PciFunction:
    """The ISA bridge's configuration space at the OS's entry."""
    return firmware_left(PciFunction("piix3", config_space(IDENTITY)), AT_ENTRY)


def pirq_irq(fn: PciFunction, pirq: int) -> int | None:
    """The ISA IRQ PIRQ `pirq` (0-3: A-D) is routed to, or None while it is disabled."""
    route = fn.byte(PIRQ_ROUTE + pirq)
    return None if route & 0x80 else route & 0x0F


class ResetControl:
    """The PIIX3's reset control register (RCR, port 0xCF9), as QEMU's rcr_write: a write
    with bit 2 (RST_CPU) set resets the machine, otherwise bit 1 (SRST) is kept; a read
    answers the kept bit."""

    def __init__(self, on_reset: Callable[[], None]) -> None:
        self.rcr = 0
        self._on_reset = on_reset

    def read(self, offset: int, size: int) -> int:
        """The kept SRST bit."""
        return self.rcr

    def write(self, offset: int, size: int, value: int) -> None:
        """Reset on RST_CPU; keep SRST."""
        if value & 0x04:
            self._on_reset()
            return
        self.rcr = value & 0x02
