"""The 256 words of ATA IDENTIFY DEVICE for a hard disk, as QEMU 7.2 fills them.

QEMU hw/ide/core.c ide_identify() and ide_identify_size(): model "QEMU HARDDISK", serial
"QM%05d" numbered by position (primary master 1, primary slave 2, secondary master 3,
secondary slave 4: ide_init1's counter), firmware revision qemu_hw_version() ("2.5+"), the
physical CHS in words 1/3/6 and 54-56, the LBA28 capacity (capped at 2^28 - 1) in 60-61 and
the LBA48 one in 100-103. Strings are ATA strings: space-padded, the two bytes of each word
swapped (QEMU's padstr). QEMU builds the block once, at the first IDENTIFY, and keeps it
(identify_set): word 59 shows the multiple count of that moment, 16 under SeaBIOS, which
identifies every disk at POST; SET FEATURES edits words 62, 63, 85 and 88 of the kept block.
"""

from __future__ import annotations

from bt.devices.diskgeometry import Geometry

MODEL = "QEMU HARDDISK"
FIRMWARE = "2.5+"  # qemu_hw_version() for the pc/isapc machine types of QEMU >= 2.5
MAX_MULT_SECTORS = 16  # QEMU's MAX_MULT_SECTORS
LBA28_MAX = (1 << 28) - 1
WORD85_WCACHE = 0x4021  # NOP, write cache enabled, SMART enabled
WORD85_NO_WCACHE = 0x4001


def serial_for(position: int) -> str:
    """QEMU's default serial of the drive at `position` (0-3: channel * 2 + unit)."""
    return f"QM{position + 1:05d}"


def ata_string(text: str, n_bytes: int) -> list[int]:
    """`text` as ATA words: padded with spaces to `n_bytes`, first character in each high byte."""
    raw = text.encode("ascii")[:n_bytes].ljust(n_bytes, b" ")
    return [raw[i] << 8 | raw[i + 1] for i in range(0, n_bytes, 2)]


def identify_words(
    geometry: Geometry, sectors: int, serial: str, mult_sectors: int, write_cache: bool = True
) -> list[int]:
    """IDENTIFY DEVICE's 256 words for a disk of `sectors` sectors with physical `geometry`."""
    w = [0] * 256
    cyl, heads, spt = geometry.cylinders, geometry.heads, geometry.sectors
    w[0] = 0x0040  # fixed device
    w[1], w[3], w[6] = cyl, heads, spt
    w[4] = (512 * spt) & 0xFFFF  # retired: unformatted bytes per track
    w[5] = 512  # retired: unformatted bytes per sector
    w[10:20] = ata_string(serial, 20)
    w[20], w[21], w[22] = 3, 512, 4  # retired buffer type, buffer size, ECC bytes
    w[23:27] = ata_string(FIRMWARE, 8)
    w[27:47] = ata_string(MODEL, 40)
    w[47] = 0x8000 | MAX_MULT_SECTORS
    w[48] = 1  # doubleword I/O
    w[49] = 1 << 11 | 1 << 9 | 1 << 8  # IORDY, LBA, DMA
    w[51] = w[52] = 0x200  # PIO and DMA cycle timing modes
    w[53] = 0x0007  # words 54-58, 64-70 and 88 valid
    w[54], w[55], w[56] = cyl, heads, spt  # current CHS
    oldsize = (cyl * heads * spt) & 0xFFFFFFFF
    w[57], w[58] = oldsize & 0xFFFF, oldsize >> 16
    if mult_sectors:
        w[59] = 0x100 | mult_sectors
    lba28 = min(sectors, LBA28_MAX)
    w[60], w[61] = lba28 & 0xFFFF, lba28 >> 16
    w[62] = w[63] = 0x07  # single-word and multiword DMA 0-2
    w[64] = 0x03  # PIO 3-4
    w[65] = w[66] = w[67] = w[68] = 120
    w[69] = 1 << 14  # deterministic TRIM (QEMU's ide-hd has a discard granularity)
    w[80], w[81] = 0xF0, 0x16  # ATA-3..6, conforms to ATA-5
    w[82] = 1 << 14 | 1 << 5 | 1  # NOP, write cache, SMART
    w[83] = 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10  # FLUSH CACHE (EXT), LBA48
    w[84] = 1 << 14
    w[85] = WORD85_WCACHE if write_cache else WORD85_NO_WCACHE
    w[86] = 1 << 13 | 1 << 12 | 1 << 10
    w[87] = 1 << 14
    w[88] = 0x3F | 1 << 13  # UDMA 0-5 supported, UDMA 5 selected
    w[93] = 1 | 1 << 14 | 0x2000
    for i in range(4):
        w[100 + i] = (sectors >> (16 * i)) & 0xFFFF
    w[106] = 0x6000  # one logical sector per physical sector (512 bytes)
    w[169] = 1  # DATA SET MANAGEMENT TRIM supported
    return w
