"""INT 13h AH=48h: the EDD drive-parameter buffer and the DPTE, as SeaBIOS 1.16 fills them for
QEMU's IDE disks (src/block.c fill_ata_edd and fill_generic_edd).

The caller's buffer at DS:SI starts with its size. Under 26 bytes: DISK_RET_EPARAM. From 26:
EDD 1.x (size 26, info flags 0x02 "geometry valid" unless the disk is larger than the
physical geometry can count with 0x3FFF cylinders, then 0 and 0x3FFF cylinders; physical
C/H/S, the sector count, 512 bytes a sector). From 30: EDD 2.x (size 30) and the far pointer
to the DPTE, a 16-byte table SeaBIOS keeps in its own memory and rewrites at every call. From
66 (74: the T13 layout): EDD 3.0 (key 0xBEDD, device-path length 36 or 44, "PCI " and
"ATA     ", the interface path: the IDE function's PCI bus/device/function, with the channel
in the T13 layout only, and the device path: 0 master, 1 slave), checksummed.

QEMU's i440FX puts the PIIX IDE function at PCI 00:01.1; its primary channel is at 0x1F0/0x3F6
with IRQ 14, the secondary at 0x170/0x376 with IRQ 15 (hw/ide/piix.c).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bt.bios.api import PhysMemory
from bt.bios.diskstatus import EPARAM, SUCCESS
from bt.devices.diskimage import DiskImage
from bt.devices.hdgeometry import LBA, NONE

PIIX_IDE_BDF = (0, 1, 1)  # bus, device, function
CHANNELS = ((0x1F0, 0x3F4, 14), (0x170, 0x374, 15))  # iobase1, iobase2, irq (SeaBIOS ata.c)
ATA_CB_DC = 2  # device control register, at iobase2 + 2
ATA_CB_DH_DEV0, ATA_CB_DH_DEV1, ATA_CB_DH_LBA = 0xA0, 0xB0, 0x40


@dataclass(frozen=True, slots=True)
class FarPtr:
    """A real-mode segment:offset pointer."""

    segment: int
    offset: int

    @property
    def linear(self) -> int:
        """segment * 16 + offset."""
        return (self.segment << 4) + self.offset

    @property
    def segoff(self) -> int:
        """The 32-bit form a BIOS stores (offset in the low word)."""
        return (self.segment << 16) | self.offset


def _checksum(data: bytes) -> int:
    return -sum(data) & 0xFF


def dpte(image: DiskImage, unit: int) -> bytes:
    """The 16-byte DPTE of ATA unit `unit` (0-3: channel unit // 2, slave unit % 2)."""
    assert image.hd is not None
    iobase1, iobase2, irq = CHANNELS[unit // 2]
    slave = unit % 2
    options = 1 << 4  # LBA translation
    if image.hd.translation != NONE:
        options |= 1 << 3  # CHS translation
        if image.hd.translation == LBA:
            options |= 1 << 9
    prefix = (ATA_CB_DH_DEV1 if slave else ATA_CB_DH_DEV0) | ATA_CB_DH_LBA
    body = struct.pack(
        "<HHBBBBBBHHB", iobase1, iobase2 + ATA_CB_DC, prefix, 0xCB, irq, 1, 0, 0, options, 0, 0x11
    )
    return body + bytes([_checksum(body)])


def fill_edd(mem: PhysMemory, buf: int, image: DiskImage, unit: int, dpte_ptr: FarPtr) -> int:
    """Fill the AH=48h buffer at physical `buf` for hard disk `image` (ATA unit `unit`);
    write the DPTE at `dpte_ptr`. Returns the status code."""
    assert image.hd is not None
    (size,) = struct.unpack("<H", mem.read_phys(buf, 2))
    if size < 26:
        return EPARAM
    t13 = size == 74
    pchs = image.geometry
    lba = image.sectors
    if lba > pchs.sectors * pchs.heads * 0x3FFF:
        infos, cylinders = 0x00, 0x3FFF
    else:
        infos, cylinders = 0x02, pchs.cylinders
    edd1 = struct.pack("<HHIIIQH", 26, infos, cylinders, pchs.heads, pchs.sectors, lba, 512)
    mem.write_phys(buf, edd1)
    if size < 30:
        return SUCCESS
    mem.write_phys(dpte_ptr.linear, dpte(image, unit))
    mem.write_phys(buf, struct.pack("<H", 30))
    mem.write_phys(buf + 26, struct.pack("<I", dpte_ptr.segoff))
    if size < 66:
        return SUCCESS
    bus, dev, fn = PIIX_IDE_BDF
    path = bus | dev << 8 | fn << 16
    if t13:
        path |= (unit // 2) << 24
    head = struct.pack("<HBBH", 0xBEDD, 44 if t13 else 36, 0, 0)
    iface = b"PCI " + b"ATA     " + struct.pack("<Q", path)
    # reserved3 (just before the checksum) is the caller's: SeaBIOS does not write it
    reserved3 = mem.read_phys(buf + (72 if t13 else 64), 1)
    if t13:
        tail = struct.pack("<QQ", unit % 2, 0) + reserved3
    else:
        tail = struct.pack("<Q", unit % 2) + reserved3
    block = head + iface + tail  # bytes 30.. up to the checksum
    mem.write_phys(buf + 30, block + bytes([_checksum(block)]))
    return SUCCESS
