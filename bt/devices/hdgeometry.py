"""Hard-disk geometry: the physical CHS QEMU gives an IDE disk and the logical CHS SeaBIOS uses.

Two steps, as in qemu-system-i386 -hda IMG with SeaBIOS:

1. QEMU 7.2 hw/block/hd-geometry.c hd_geometry_guess(): the physical geometry (what ATA
   IDENTIFY reports in words 1, 3 and 6) and a BIOS translation (written to CMOS 0x39 by
   hw/i386/pc.c pc_cmos_init_late). guess_disk_lchs() first reads the MBR: with the 0x55AA
   signature, the first partition entry with a sector count and a nonzero end head gives
   heads = end_head + 1, sectors = end_sector & 63 and cylinders = size / (heads * sectors)
   (skipped unless 1..16383). A guess with at most 16 heads is taken as the physical geometry,
   untranslated; otherwise (or with no guess) guess_chs_for_size() gives 16 heads, 63 sectors
   and size / 1008 cylinders clamped to 2..16383, translated "large" or "lba" (after a guess
   with more than 16 heads: large if cylinders * heads <= 131072) or, with no guess, none when
   cylinders <= 1024 and lba above (hd_bios_chs_auto_trans).
2. SeaBIOS 1.16 src/block.c setup_translation(): the logical geometry INT 13h uses from the
   physical one and the translation: none keeps it, lba takes 63 sectors and 16/32/64/128/255
   heads by size, large halves cylinders and doubles heads while over 1024 cylinders; all clip
   the cylinders to 1024.

The disk's LBA range is its whole size (ATA IDENTIFY words 100-103, QEMU's sector count).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bt.devices.diskgeometry import Geometry

NONE, LBA, LARGE = "none", "lba", "large"


@dataclass(frozen=True, slots=True)
class HdGeometry:
    """What QEMU and SeaBIOS make of a hard-disk image."""

    physical: Geometry  # QEMU's IDE geometry (EDD's cylinders/heads/sectors)
    translation: str  # "none", "lba" or "large"
    logical: Geometry  # SeaBIOS's LCHS (INT 13h AH=02h/08h)


def _chs_for_size(sectors: int) -> Geometry:
    # QEMU guess_chs_for_size
    return Geometry(min(max(sectors // (16 * 63), 2), 16383), 16, 63)


def _mbr_guess(sectors: int, mbr: bytes) -> Geometry | None:
    # QEMU guess_disk_lchs
    if len(mbr) < 512 or mbr[510:512] != b"\x55\xaa":
        return None
    for i in range(4):
        entry = mbr[0x1BE + 16 * i : 0x1BE + 16 * (i + 1)]
        end_head, end_sector = entry[5], entry[6]
        (nr_sects,) = struct.unpack_from("<I", entry, 12)
        if nr_sects and end_head:
            heads, secs = end_head + 1, end_sector & 63
            if secs == 0:
                continue
            cylinders = sectors // (heads * secs)
            if not 1 <= cylinders <= 16383:
                continue
            return Geometry(cylinders, heads, secs)
    return None


def qemu_physical(sectors: int, mbr: bytes) -> tuple[Geometry, str]:
    """QEMU's hd_geometry_guess for an image of `sectors` sectors whose first is `mbr`."""
    guess = _mbr_guess(sectors, mbr)
    if guess is None:
        pchs = _chs_for_size(sectors)
        ok = pchs.cylinders <= 1024 and pchs.heads <= 16 and pchs.sectors <= 63
        return pchs, NONE if ok else LBA
    if guess.heads > 16:
        pchs = _chs_for_size(sectors)
        return pchs, LARGE if pchs.cylinders * pchs.heads <= 131072 else LBA
    return guess, NONE


def seabios_logical(pchs: Geometry, translation: str, sectors: int) -> Geometry:
    """SeaBIOS's setup_translation: the LCHS of a drive."""
    cylinders, heads, spt = pchs.cylinders, pchs.heads, pchs.sectors
    if translation == LBA:
        spt = 63
        if sectors > 63 * 255 * 1024:
            heads, cylinders = 255, 1024
        else:
            sect = (sectors & 0xFFFFFFFF) // 63
            heads = sect // 1024
            for limit, value in ((128, 255), (64, 128), (32, 64), (16, 32)):
                if heads > limit:
                    heads = value
                    break
            else:
                heads = 16
            cylinders = sect // heads
    elif translation == LARGE:
        while cylinders > 1024:
            cylinders >>= 1
            heads <<= 1
            if heads > 127:
                break
    return Geometry(min(cylinders, 1024), heads, spt)


def hd_geometry(sectors: int, mbr: bytes) -> HdGeometry:
    """Both geometries of a hard-disk image."""
    pchs, translation = qemu_physical(sectors, mbr)
    return HdGeometry(pchs, translation, seabios_logical(pchs, translation, sectors))
