"""Floppy formats: the medium's geometry from an image's size (QEMU's fd_formats) and the drive.

QEMU 7.2 hw/block/fdc.c picks a diskette's geometry in pick_geometry(): with the default drive
type "auto" the first entry of its fd_formats table whose sector count equals the image's wins,
and the drive takes that entry's type (120: 5.25" 1.2 MB, 144: 3.5" 1.44 MB, 288: 3.5" 2.88
MB). The table is kept here in QEMU's order, so 720 sectors are a 5.25" 360K diskette (before
the 3.5" single-sided entry) and 1440 sectors a 3.5" 720K one.

The BIOS does not see the medium's geometry: QEMU writes the drive type to CMOS 0x10
(hw/i386/pc.c cmos_get_fd_drive_type: 120 -> 2, 144 -> 4, 288 -> 5) and SeaBIOS's
hw/floppy.c takes the drive's logical geometry from its FloppyInfo table by that CMOS type:
INT 13h AH=08h reports it and AH=02h checks C/H/S against it, while the controller reads the
medium by its own geometry (a 360K diskette sits in a 1.2 MB drive: 80/2/15 for the BIOS,
40/2/9 on the medium).
"""

from __future__ import annotations

from dataclasses import dataclass

from bt.devices.diskgeometry import Geometry


@dataclass(frozen=True, slots=True)
class FloppyFormat:
    """One entry of QEMU's fd_formats: the medium's geometry and the drive type it implies."""

    geometry: Geometry  # tracks (cylinders), sides, sectors per track
    drive: str  # QEMU's drive type: "120", "144" or "288"
    rate: int  # the data rate the medium is read at (QEMU's FDriveRate)


RATE_500K, RATE_300K, RATE_250K, RATE_1M = 0, 1, 2, 3  # the controller's data-rate codes


def _fmt(drive: str, last_sect: int, max_track: int, max_head: int, rate: int) -> FloppyFormat:
    # QEMU's fields: last_sect is sectors per track, max_track the number of tracks and
    # max_head the number of sides minus one.
    return FloppyFormat(Geometry(max_track, max_head + 1, last_sect), drive, rate)


FD_FORMATS: tuple[FloppyFormat, ...] = (
    # 1.44 MB 3"1/2
    _fmt("144", 18, 80, 1, RATE_500K),
    _fmt("144", 18, 81, 1, RATE_500K),
    _fmt("144", 20, 80, 1, RATE_500K),
    _fmt("144", 21, 80, 1, RATE_500K),  # 1.68 MB (DMF)
    _fmt("144", 21, 82, 1, RATE_500K),
    _fmt("144", 21, 83, 1, RATE_500K),
    _fmt("144", 22, 80, 1, RATE_500K),
    _fmt("144", 23, 80, 1, RATE_500K),
    _fmt("144", 24, 80, 1, RATE_500K),
    # 2.88 MB 3"1/2
    _fmt("288", 36, 80, 1, RATE_1M),
    _fmt("288", 39, 80, 1, RATE_1M),
    _fmt("288", 40, 80, 1, RATE_1M),
    _fmt("288", 44, 80, 1, RATE_1M),
    _fmt("288", 48, 80, 1, RATE_1M),
    # 720 kB 3"1/2
    _fmt("144", 9, 80, 1, RATE_250K),
    _fmt("144", 10, 80, 1, RATE_250K),
    _fmt("144", 10, 82, 1, RATE_250K),
    _fmt("144", 10, 83, 1, RATE_250K),
    _fmt("144", 13, 80, 1, RATE_250K),
    _fmt("144", 14, 80, 1, RATE_250K),
    # 1.2 MB 5"1/4
    _fmt("120", 15, 80, 1, RATE_500K),
    _fmt("120", 18, 80, 1, RATE_500K),
    _fmt("120", 18, 82, 1, RATE_500K),
    _fmt("120", 18, 83, 1, RATE_500K),
    _fmt("120", 20, 80, 1, RATE_500K),
    # 720 kB 5"1/4
    _fmt("120", 9, 80, 1, RATE_250K),
    _fmt("120", 11, 80, 1, RATE_250K),
    # 360 kB 5"1/4 (and 180 kB single-sided)
    _fmt("120", 9, 40, 1, RATE_300K),
    _fmt("120", 9, 40, 0, RATE_300K),
    _fmt("120", 10, 41, 1, RATE_300K),
    _fmt("120", 10, 42, 1, RATE_300K),
    # 320 kB 5"1/4 (and 160 kB single-sided)
    _fmt("120", 8, 40, 1, RATE_250K),
    _fmt("120", 8, 40, 0, RATE_250K),
    # 360 kB 3"1/2 single-sided (after the 5"1/4 entry of the same size, as in QEMU)
    _fmt("144", 9, 80, 0, RATE_250K),
)

COMMON_SIZES = "160K, 180K, 320K, 360K, 720K, 1.2M, 1.44M, 1.68M, 2.88M"

# QEMU hw/i386/pc.c cmos_get_fd_drive_type: the CMOS 0x10 nibble of each drive type.
CMOS_DRIVE_TYPE = {"120": 2, "144": 4, "288": 5}


@dataclass(frozen=True, slots=True)
class BiosFloppyType:
    """A CMOS drive type as SeaBIOS's FloppyInfo describes it."""

    geometry: Geometry  # the drive's logical geometry (init_floppy copies it into lchs)
    size_350: bool  # a 3.5" drive (else 5.25"): media sensing tries only types of its size
    rate: int  # the data rate SeaBIOS's media sense tries first for this type


# SeaBIOS hw/floppy.c FloppyInfo, by CMOS type.
BIOS_FLOPPY_TYPES: dict[int, BiosFloppyType] = {
    1: BiosFloppyType(Geometry(40, 2, 9), False, RATE_300K),  # 360 KB 5.25"
    2: BiosFloppyType(Geometry(80, 2, 15), False, RATE_500K),  # 1.2 MB 5.25"
    3: BiosFloppyType(Geometry(80, 2, 9), True, RATE_250K),  # 720 KB 3.5"
    4: BiosFloppyType(Geometry(80, 2, 18), True, RATE_500K),  # 1.44 MB 3.5"
    5: BiosFloppyType(Geometry(80, 2, 36), True, RATE_1M),  # 2.88 MB 3.5"
    6: BiosFloppyType(Geometry(40, 1, 8), False, RATE_250K),  # 160 KB 5.25"
    7: BiosFloppyType(Geometry(40, 1, 9), False, RATE_300K),  # 180 KB 5.25"
    8: BiosFloppyType(Geometry(40, 2, 8), False, RATE_250K),  # 320 KB 5.25"
}


def sensed_rate(cmos_type: int, medium_rate: int) -> int | None:
    """The data rate SeaBIOS's floppy_media_sense settles on for a medium read at
    `medium_rate` in a drive of `cmos_type`, or None (DISK_RET_EMEDIA). A Read ID succeeds
    only at the medium's rate (QEMU checks it); after the drive type's own rate, the types of
    the same size whose geometry fits in the drive's are tried in order."""
    drive = BIOS_FLOPPY_TYPES[cmos_type]
    if drive.rate == medium_rate:
        return medium_rate
    for stype, other in BIOS_FLOPPY_TYPES.items():
        g, d = other.geometry, drive.geometry
        if stype == cmos_type or other.size_350 != drive.size_350:
            continue
        if g.heads > d.heads or g.cylinders > d.cylinders or g.sectors > d.sectors:
            continue
        if other.rate == medium_rate:
            return medium_rate
    return None


def floppy_format(sectors: int) -> FloppyFormat | None:
    """The format QEMU picks for an image of `sectors` sectors in an "auto" drive, or None when
    no entry has that size (QEMU would then guess a geometry the image does not fill)."""
    for fmt in FD_FORMATS:
        if fmt.geometry.total == sectors:
            return fmt
    return None
