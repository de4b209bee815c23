"""DiskImage: a raw floppy or hard-disk image file, its geometry and its 512-byte sectors.

An image is opened as a floppy (its size must be one of QEMU's floppy formats,
bt.devices.floppyformats) or as a hard disk (any whole number of sectors; geometry from
bt.devices.hdgeometry). Sectors are read and written by LBA; the BIOS (bt.bios.int13) does the
C/H/S checks against the drive's logical geometry first, as SeaBIOS does, and converts.

Writes go to the file, at once (os.pwrite: a guest that stops in any way leaves what it
wrote), unless the image is opened with snapshot=True: QEMU's -snapshot, a copy-on-write
overlay in host memory that is dropped with the image. The overlay holds at most one copy of
each sector of the image (a dict keyed by LBA, every LBA below the image's size), so it never
grows beyond the image's own size: bounded by construction.

Bad images raise ImageError (a GuestImageError: status 2) with one line naming the file and
the problem.
"""

from __future__ import annotations

import os

from bt.devices.diskgeometry import SECTOR_SIZE, Geometry
from bt.devices.floppyformats import (
    BIOS_FLOPPY_TYPES,
    CMOS_DRIVE_TYPE,
    COMMON_SIZES,
    FloppyFormat,
    floppy_format,
)
from bt.devices.hdgeometry import HdGeometry, hd_geometry
from bt.errors import GuestImageError

FLOPPY, HARD_DISK = "floppy", "hd"
BOOT_SIGNATURE = b"\x55\xaa"


class ImageError(GuestImageError):
    """A disk image that cannot be used: missing, unreadable, empty, cut, of no known size."""


def _size_text(n: int) -> str:
    return f"{n // 1024}K" if n % 1024 == 0 else f"{n} bytes"


class DiskImage:
    """One image file attached as a floppy or a hard disk."""

    def __init__(self, path: str, kind: str, *, snapshot: bool = False) -> None:
        if kind not in (FLOPPY, HARD_DISK):
            raise ValueError(f"kind must be {FLOPPY!r} or {HARD_DISK!r}, not {kind!r}")
        self.path = path
        self.kind = kind
        self.snapshot = snapshot
        self._overlay: dict[int, bytes] = {}
        self._fd = self._open(path, snapshot)
        try:
            size = os.fstat(self._fd).st_size
            if size == 0:
                raise ImageError(f"{path}: empty disk image")
            if size % SECTOR_SIZE:
                raise ImageError(
                    f"{path}: {size} bytes is not a whole number of {SECTOR_SIZE}-byte sectors"
                )
            self.sectors = size // SECTOR_SIZE
            self.floppy: FloppyFormat | None = None
            self.hd: HdGeometry | None = None
            if kind == FLOPPY:
                self.floppy = floppy_format(self.sectors)
                if self.floppy is None:
                    raise ImageError(
                        f"{path}: {_size_text(size)} is no floppy format ({COMMON_SIZES})"
                    )
            else:
                self.hd = hd_geometry(self.sectors, self._pread(0, SECTOR_SIZE))
        except BaseException:
            os.close(self._fd)
            raise

    @staticmethod
    def _open(path: str, snapshot: bool) -> int:
        if os.path.isdir(path):
            raise ImageError(f"{path}: is a directory, not a disk image")
        try:
            # QEMU opens an image read-write unless -snapshot (or readonly=on) is given.
            return os.open(path, os.O_RDONLY if snapshot else os.O_RDWR)
        except PermissionError:
            hint = "" if snapshot else " (a read-only image needs --snapshot)"
            raise ImageError(f"{path}: cannot open: permission denied{hint}") from None
        except OSError as exc:
            raise ImageError(f"{path}: cannot open: {exc.strerror}") from None

    def _pread(self, offset: int, n: int) -> bytes:
        try:
            data = os.pread(self._fd, n, offset)
        except OSError as exc:
            raise ImageError(f"{self.path}: cannot read: {exc.strerror}") from None
        if len(data) != n:  # the file shrank under us
            raise ImageError(f"{self.path}: cannot read: the image is shorter than it was")
        return data

    @property
    def geometry(self) -> Geometry:
        """The medium's geometry: the diskette's format, or the disk's physical (IDE) CHS."""
        if self.floppy is not None:
            return self.floppy.geometry
        assert self.hd is not None
        return self.hd.physical

    @property
    def bios_geometry(self) -> Geometry:
        """The geometry SeaBIOS's INT 13h uses for the drive: a floppy drive's by its CMOS
        type (SeaBIOS FloppyInfo), a hard disk's LCHS (setup_translation)."""
        if self.floppy is not None:
            return BIOS_FLOPPY_TYPES[self.cmos_floppy_type].geometry
        assert self.hd is not None
        return self.hd.logical

    @property
    def cmos_floppy_type(self) -> int:
        """The drive's CMOS 0x10 nibble (QEMU cmos_get_fd_drive_type); 0 for a hard disk."""
        return 0 if self.floppy is None else CMOS_DRIVE_TYPE[self.floppy.drive]

    def readable(self, lba: int, count: int) -> int:
        """How many of the `count` sectors from `lba` on exist on the image."""
        return max(0, min(count, self.sectors - lba)) if lba >= 0 else 0

    def read(self, lba: int, count: int) -> bytes:
        """`count` sectors from `lba` (all of them on the image)."""
        self._check(lba, count)
        if not self._overlay:
            return self._pread(lba * SECTOR_SIZE, count * SECTOR_SIZE)
        parts = [
            self._overlay.get(n) or self._pread(n * SECTOR_SIZE, SECTOR_SIZE)
            for n in range(lba, lba + count)
        ]
        return b"".join(parts)

    def write(self, lba: int, data: bytes) -> None:
        """Write whole sectors at `lba` (to the overlay with snapshot=True)."""
        count, rest = divmod(len(data), SECTOR_SIZE)
        if rest:
            raise ValueError(f"{len(data)} bytes is not a whole number of sectors")
        self._check(lba, count)
        if self.snapshot:
            for i in range(count):
                self._overlay[lba + i] = bytes(data[i * SECTOR_SIZE : (i + 1) * SECTOR_SIZE])
            return
        try:
            os.pwrite(self._fd, data, lba * SECTOR_SIZE)
        except OSError as exc:
            raise ImageError(f"{self.path}: cannot write: {exc.strerror}") from None

    def overlay_sectors(self) -> int:
        """Sectors held in the snapshot overlay (at most `sectors`)."""
        return len(self._overlay)

    def boot_sector(self) -> bytes:
        """Sector 0, checked for the boot signature the BIOS looks for (0x55AA at 510)."""
        sector = self.read(0, 1)
        if sector[510:512] != BOOT_SIGNATURE:
            raise ImageError(
                f"{self.path}: no boot signature (0x55 0xAA at offset 510): not a boot disk"
            )
        return sector

    def close(self) -> None:
        """Close the file (the overlay, if any, is dropped)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self._overlay.clear()

    def _check(self, lba: int, count: int) -> None:
        if count < 0 or self.readable(lba, count) != count:
            raise ValueError(
                f"sectors {lba}..{lba + count - 1} are outside {self.path} ({self.sectors})"
            )
