"""QEMU's standard VGA as a PCI function (00:02.0, 1234:1111) with the BARs SeaBIOS assigned."""

from __future__ import annotations

from bt.devices.pcifunction import Bar, Identity, PciFunction, config_space, firmware_left

IDENTITY = Identity(vendor=0x1234, device=0x1111, revision=0x02, class_code=0x030000)
FRAMEBUFFER = Bar(0x10, 16 << 20, kind=0x08)  # prefetchable memory: the VGA's RAM
MMIO = Bar(0x18, 4096)  # the Bochs DISPI and VGA registers as memory
ROM = Bar(0x30, 64 << 10)  # the option ROM (its image: QEMU's vgabios-stdvga.bin)
BARS = (FRAMEBUFFER, MMIO, ROM)
# SeaBIOS assigns memory BARs from the top of the PCI hole, largest first; the ROM BAR is left
# disabled (bit 0 clear) once its image is copied to C0000.
AT_ENTRY = {FRAMEBUFFER.offset: 0xFD000008, MMIO.offset: 0xFEBF0000, ROM.offset: 0xFEBE0000}


def std_vga() -> PciFunction:
    """The VGA function's configuration space at the OS's entry."""
    fn = PciFunction("vga", config_space(IDENTITY, BARS), BARS)
    firmware_left(fn, {})
    for offset, value in AT_ENTRY.items():
        fn.set_bytes(offset, value.to_bytes(4, "little"))
    return fn
