"""The PIIX3 IDE function (00:01.1, 8086:7010) as SeaBIOS leaves it: legacy mode, BAR4."""

from __future__ import annotations

from bt.devices.pcifunction import Bar, Identity, PciFunction, config_space, firmware_left

IDENTITY = Identity(0x8086, 0x7010, 0x00, 0x010180, status=0x0280)
# Bus-master IDE registers: 16 bytes of I/O; SeaBIOS puts them at 0xC000. Prog-if 0x80: both
# channels in legacy (compatibility) mode, so BAR0-BAR3 are absent and the ports are
# 0x1F0/0x3F6 and 0x170/0x376 on IRQ 14/15.
BMIBA = Bar(0x20, 16, kind=0x01)
BMIBA_AT_ENTRY = 0xC001
IDETIM_AT_ENTRY = bytes((0x00, 0x80, 0x00, 0x80))  # 0x40-0x43: both channels' decode enabled


def piix3_ide() -> PciFunction:
    """The IDE function's configuration space at the OS's entry."""
    fn = PciFunction("piix3-ide", config_space(IDENTITY, (BMIBA,)), (BMIBA,))
    firmware_left(fn, {})
    fn.set_bytes(BMIBA.offset, BMIBA_AT_ENTRY.to_bytes(4, "little"))
    fn.set_bytes(0x40, IDETIM_AT_ENTRY)
    return fn
