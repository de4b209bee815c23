"""boot_plan: which disk drives a run has and which one boots, from `bt run`'s options.

The options are QEMU's: --fda/--fdb (floppy drives A: and B:), --hda/--hdb and --hdc/--hdd
(the primary and the secondary IDE channel's master and slave), --boot a|c, --snapshot.
`bt run IMG` also boots a disk image when IMG is neither an ELF file nor a file with a
Multiboot header (nor --load-addr's flat binary) and is a whole number of 512-byte sectors:
IMG must carry the boot signature, and it goes into drive A: when its size is one of QEMU's
floppy formats (bt.devices.floppyformats), into C: (the first hard disk) otherwise.
QEMU itself has no such rule (it needs -fda or -hda); the size rule is bt's.

Which drive boots: IMG's, else --boot's, else QEMU's default order for the pc machine ("cad":
a hard disk when there is one and it carries a boot signature, else drive A:). A hard disk
boots only with the boot signature (SeaBIOS boot_disk checks it); a floppy given with --fda
boots without one, as under SeaBIOS (CONFIG_FLOPPY_SIGCHECK is off), while `bt run IMG` needs
it to tell an image from junk.

The INT 13h numbering is SeaBIOS's under QEMU: floppy drive 0x00 always exists (QEMU's drive A:
with no diskette is an empty 2.88 MB drive, CMOS 0x10 = 0x50), 0x01 with --fdb; hard disks are
numbered in the order found, so a lone --hdb is 0x80.

A Multiboot or flat guest may have disks attached too (QEMU -kernel with -hda): it boots as a
kernel and the plan has no boot drive; --boot then is an error.
"""

from __future__ import annotations

import argparse
import os
import struct
from dataclasses import dataclass

from bt.bios.biosdrive import BiosDrive
from bt.devices.diskimage import FLOPPY, HARD_DISK, DiskImage, ImageError
from bt.devices.floppyformats import floppy_format
from bt.errors import GuestImageError, OptionError
from bt.linuxboot import is_bzimage
from bt.loader import ELF_MAGIC, HEADER_MAGIC, HEADER_SEARCH

SECTOR = 512
FLOPPY_OPTIONS = ("--fda", "--fdb")
DISK_OPTIONS = ("--hda", "--hdb", "--hdc", "--hdd")


@dataclass(frozen=True, slots=True)
class BootPlan:
    """The drives of a run (opened) and the boot drive's first sector."""

    drives: dict[int, BiosDrive]  # INT 13h's table (bt.bios.int13.Int13)
    boot_drive: int | None  # DL at the boot sector's entry: 0x00 or 0x80; None: a kernel boots
    boot_sector: bytes  # what the BIOS loads at 0000:7C00 (empty when a kernel boots)
    cmos_floppy: int  # CMOS 0x10: drive A:'s type in the high nibble, B:'s in the low one

    def ide_images(self) -> tuple[DiskImage | None, ...]:
        """The hard disks by IDE position (--hda, --hdb, --hdc, --hdd; None: no disk there):
        the same objects INT 13h uses, so both see one image and one --snapshot overlay."""
        by_unit = {d.unit: d.image for n, d in self.drives.items() if n >= 0x80}
        return tuple(by_unit.get(unit) for unit in range(len(DISK_OPTIONS)))

    def images(self) -> list[DiskImage]:
        """The open images."""
        return [d.image for d in self.drives.values() if d.image is not None]

    def close(self) -> None:
        """Close every image (a snapshot's overlay is dropped)."""
        for image in self.images():
            image.close()


def is_kernel_file(path: str) -> bool:
    """Whether `path` is for the kernel loader: an ELF file, one with a Multiboot magic in its
    first 8 KiB (a bad one included: the loader names what is wrong with it), or one that
    cannot be a disk image (not a whole, nonzero number of sectors), or a Linux bzImage (its
    boot sector has the boot signature, but QEMU's -kernel looks for the setup header first)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
            size = fh.seek(0, 2)
    except OSError:
        return True  # the loader reports the missing or unreadable file, as before
    if head[:4] == ELF_MAGIC or size == 0 or size % SECTOR or is_bzimage(head):
        return True
    magic = struct.pack("<I", HEADER_MAGIC)
    return any(head[i : i + 4] == magic for i in range(0, min(len(head), HEADER_SEARCH), 4))


def guest_kind(path: str) -> str:
    """FLOPPY or HARD_DISK: how a disk image `path` boots, by its size."""
    size = os.path.getsize(path)  # is_kernel_file read it: a whole number of sectors
    return FLOPPY if floppy_format(size // SECTOR) is not None else HARD_DISK


def _paths(options: argparse.Namespace) -> dict[str, str]:
    """--fda/--fdb/--hda/--hdb as given, with `bt run IMG` put in its drive."""
    given = {opt: getattr(options, opt[2:]) for opt in (*FLOPPY_OPTIONS, *DISK_OPTIONS)}
    paths = {opt: path for opt, path in given.items() if path is not None}
    guest = options.guest
    if guest is not None and options.load_addr is None and not is_kernel_file(guest):
        opt = "--fda" if guest_kind(guest) == FLOPPY else "--hda"
        if opt in paths:
            what = "drive A:" if opt == "--fda" else "hard disk C:"
            raise OptionError(f"{guest} would boot as {what}, which {opt} {paths[opt]} also is")
        paths = {opt: guest, **paths}
    seen: dict[str, str] = {}
    for opt, path in paths.items():
        if path in seen:
            raise OptionError(f"{opt}: {path} is already attached as {seen[path]}")
        seen[path] = opt
    return paths


def _boot_drive(options: argparse.Namespace, paths: dict[str, str]) -> int | None:
    guest = options.guest
    image_guest = guest is not None and guest in paths.values()
    if guest is not None and not image_guest:
        if options.boot is not None:
            raise OptionError(f"--boot {options.boot}: {guest} is a kernel, not a disk to boot")
        return None
    if options.boot == "a":
        if "--fda" not in paths:
            raise OptionError("--boot a: no diskette in drive A: (give --fda IMG)")
        return 0x00
    if options.boot == "c":
        if not any(opt in paths for opt in DISK_OPTIONS):
            raise OptionError("--boot c: no hard disk (give --hda IMG)")
        return 0x80
    if image_guest:
        return 0x00 if paths.get("--fda") == guest else 0x80
    if any(opt in paths for opt in DISK_OPTIONS):
        return 0x80
    if "--fda" in paths:
        return 0x00
    if paths:  # QEMU would find drive A: empty and no hard disk: "No bootable device"
        raise OptionError("no drive to boot: drive A: is empty (give --fda IMG or --hda IMG)")
    return None


def boot_plan(options: argparse.Namespace) -> BootPlan | None:
    """The run's drives and boot drive, or None when it has no disk at all (a kernel boots
    and no drive is attached). Raises one-line ImageError/OptionError."""
    paths = _paths(options)
    boot = _boot_drive(options, paths)
    if not paths:
        return None
    opened: dict[str, DiskImage] = {}
    try:
        for opt, path in paths.items():
            kind = FLOPPY if opt in FLOPPY_OPTIONS else HARD_DISK
            try:
                opened[opt] = DiskImage(path, kind, snapshot=options.snapshot)
            except ImageError as exc:
                raise _named(exc, opt, path, path == options.guest) from None
        drives: dict[int, BiosDrive] = {0: BiosDrive(opened.get("--fda"), 0)}
        if "--fdb" in opened:
            drives[1] = BiosDrive(opened["--fdb"], 1)
        number = 0x80
        for unit, opt in enumerate(DISK_OPTIONS):
            if opt in opened:
                drives[number] = BiosDrive(opened[opt], unit)
                number += 1
        if boot == 0x80 and options.boot is None and options.guest is None and "--fda" in opened:
            # QEMU's default order tries the hard disk first and, when SeaBIOS finds no boot
            # signature there ("Boot failed: not a bootable disk"), the diskette next.
            try:
                sector = _boot_sector(options, drives[0x80], 0x80)
            except ImageError:
                boot, sector = 0x00, _boot_sector(options, drives[0], 0x00)
        else:
            sector = b"" if boot is None else _boot_sector(options, drives[boot], boot)
    except GuestImageError:
        for image in opened.values():
            image.close()
        raise
    cmos = drives[0].cmos_type << 4 | (drives[1].cmos_type if 1 in drives else 0)
    return BootPlan(drives, boot, sector, cmos)


def _named(exc: ImageError, opt: str, path: str, guest: bool) -> ImageError:
    """The image's error with the option that named it; for `bt run IMG`, with what else
    IMG could have been."""
    reason = str(exc).removeprefix(f"{path}: ")
    if guest:
        return ImageError(
            f"{path}: not a kernel (no ELF or Multiboot header) nor a disk image ({reason}); "
            "a flat binary needs --load-addr ADDR"
        )
    return ImageError(f"{opt} {path}: {reason}")


def _boot_sector(options: argparse.Namespace, drive: BiosDrive, number: int) -> bytes:
    image = drive.disk()
    if number < 0x80 and options.guest != image.path:
        return image.read(0, 1)
    try:
        return image.boot_sector()  # checks the signature
    except ImageError as exc:
        opt = "--fda" if number < 0x80 else DISK_OPTIONS[drive.unit]
        raise _named(exc, opt, image.path, options.guest == image.path) from None
