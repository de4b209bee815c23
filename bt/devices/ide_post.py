"""The IDE channels as SeaBIOS's POST leaves them at a kernel's or a boot sector's entry.

Measured under qemu-system-i386 7.2 with SeaBIOS 1.16 (-M pc and isapc, disks at each
position or not): SeaBIOS's ATA probe leaves every channel that has a disk with the slave
selected (device register 0xB0 in both positions), sector count, sector number and cylinder
0, error 0, status DRDY|DSC, nIEN clear (a command's interrupt reaches the 8259), and, where
the slave is absent, its presence check's 0x55/0xAA in the HOB bytes of the count and sector
registers. Its IDENTIFY of each disk is kept too (bt/devices/ata_identify.py).
"""

from __future__ import annotations

from bt.devices.ide_channel import IdeChannel


def after_seabios_post(channel: IdeChannel) -> None:
    """Put `channel` (one with a disk) in the state SeaBIOS leaves it."""
    slave_absent = not channel.drives[1].present
    for d in channel.drives:
        d.nsector = d.sector = d.lcyl = d.hcyl = d.error = 0
        d.hob_feature = d.hob_lcyl = d.hob_hcyl = 0
        d.hob_nsector, d.hob_sector = (0x55, 0xAA) if slave_absent else (0, 0)
        d.select = 0xB0
    channel.unit = 1
