"""BiosDrive: one drive of INT 13h's table: an image, or a floppy drive with no diskette in it.

QEMU's pc machine always has floppy drive A: with no -fda its type is the controller's
fallback, 2.88 MB (CMOS 0x10 = 0x50), so SeaBIOS maps a floppy drive 0x00 that has no medium:
AH=08h reports its geometry and type 5, AH=15h/16h answer as for any floppy, verify
succeeds, and a read or write fails with DISK_RET_ECONTROLLER (measured under QEMU 7.2 and
SeaBIOS 1.16.2: tools/int13_reference.py, configuration "harddisk").
"""

from __future__ import annotations

from dataclasses import dataclass

from bt.devices.diskgeometry import Geometry
from bt.devices.diskimage import DiskImage
from bt.devices.floppyformats import BIOS_FLOPPY_TYPES

EMPTY_FLOPPY_TYPE = 5  # QEMU isa-fdc's fallback drive type (288) as cmos_get_fd_drive_type has it


@dataclass(frozen=True, slots=True)
class BiosDrive:
    """A drive: its image (None: an empty floppy drive) and its unit on the controller
    (floppy 0/1; ATA 0-3: channel unit // 2, slave unit % 2, which AH=48h's paths name)."""

    image: DiskImage | None
    unit: int

    @property
    def cmos_type(self) -> int:
        """The floppy drive's CMOS type (SeaBIOS's floppy_type, AH=08h's BL); 0 for a disk."""
        return EMPTY_FLOPPY_TYPE if self.image is None else self.image.cmos_floppy_type

    @property
    def bios_geometry(self) -> Geometry:
        """The logical geometry SeaBIOS's INT 13h checks and reports."""
        if self.image is None:
            return BIOS_FLOPPY_TYPES[EMPTY_FLOPPY_TYPE].geometry
        return self.image.bios_geometry

    def disk(self) -> DiskImage:
        """The image of a drive that has one (hard disks always do)."""
        assert self.image is not None, "an empty floppy drive has no image"
        return self.image
