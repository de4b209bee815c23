"""One disk operation between an image and guest memory, as SeaBIOS's drivers and QEMU's devices
carry it out: the status (AH) and the sector count SeaBIOS reports back.

SeaBIOS 1.16 src/block.c process_op() refuses more than 64 KiB at once (DISK_RET_EBOUNDARY,
count 0) and reports count 0 whenever an operation fails without having moved its count.
Then the driver:

- Floppy (src/hw/floppy.c floppy_read/floppy_write/floppy_verify): the LBA (counted in the
  drive's logical geometry) goes back to C/H/S, floppy_prep() senses the medium if it must
  (bt.bios.floppyctl; verify ends there), dma_floppy() refuses a buffer that crosses a
  64 KiB physical boundary (EBOUNDARY). QEMU's controller (hw/block/fdc.c) then fails a
  transfer at a data rate not the medium's, on a track past the medium's last (fd_seek:
  track == number of tracks still seeks), a head the medium does not have or a sector past
  the track's last (SeaBIOS: DISK_RET_ECONTROLLER, count 0). A multi-track transfer runs on
  through a double-sided medium sector after sector, and ends with the track on a
  single-sided one (fdctrl_seek_to_next_sect; success, the whole count reported); sectors
  past the image's end read as zeros (the FIFO is zeroed when the block read fails) and a
  write there fails the command.
- Hard disk (src/hw/ata.c, PIO): reads and writes go by LBA to QEMU's IDE disk, which fails
  the first sector past the image's end; SeaBIOS returns DISK_RET_EBADTRACK with the count of
  the sectors read before it, or, for a write, count 0 though those sectors were written
  (measured under QEMU 7.2 / SeaBIOS 1.16.2, tools/int13_reference.py). Verify and seek
  succeed without touching the disk (process_ata_op).
"""

from __future__ import annotations

from dataclasses import dataclass

from bt.bios.api import PhysMemory
from bt.bios.biosdrive import BiosDrive
from bt.bios.diskstatus import EBADTRACK, EBOUNDARY, ECONTROLLER, SUCCESS
from bt.bios.floppyctl import FloppyController
from bt.devices.diskgeometry import SECTOR_SIZE
from bt.devices.diskimage import FLOPPY, DiskImage

READ, WRITE, VERIFY, SEEK = "read", "write", "verify", "seek"
MAX_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Transfer:
    """What an operation returned: the status code and the sectors reported as transferred."""

    status: int
    count: int


@dataclass(frozen=True, slots=True)
class DiskOp:
    """One request: the command, `count` sectors from `lba` (in the drive's logical geometry
    for a floppy), the buffer's physical address."""

    command: str
    lba: int
    count: int
    addr: int


def disk_op(drive: BiosDrive, op: DiskOp, mem: PhysMemory, fdc: FloppyController) -> Transfer:
    """Carry out `op` on `drive`."""
    if op.count * SECTOR_SIZE > MAX_BYTES:
        return Transfer(EBOUNDARY, 0)
    if drive.image is None or drive.image.kind == FLOPPY:
        return _floppy(drive, op, mem, fdc)
    if op.command in (VERIFY, SEEK):
        return Transfer(SUCCESS, op.count)
    return _ata(drive.image, op.command, op.lba, op.count, op.addr, mem)


def _floppy(drive: BiosDrive, op: DiskOp, mem: PhysMemory, fdc: FloppyController) -> Transfer:
    command, count, addr = op.command, op.count, op.addr
    cylinder, head, sector = drive.bios_geometry.to_chs(op.lba)
    status = fdc.prepare(drive)
    if status != SUCCESS:
        return Transfer(status, 0)
    if command == VERIFY:
        return Transfer(SUCCESS, count)
    last = addr + ((count * SECTOR_SIZE - 1) & 0xFFFF)
    if addr >> 16 != last >> 16:
        return Transfer(EBOUNDARY, 0)
    image = drive.image
    if image is None or not fdc.rate_matches(image):
        return Transfer(ECONTROLLER, 0)
    medium = image.geometry
    if cylinder > medium.cylinders or head >= medium.heads or sector > medium.sectors:
        return Transfer(ECONTROLLER, 0)
    if medium.heads == 1:
        # QEMU fdctrl_seek_to_next_sect: on a single-sided medium a multi-track transfer ends
        # with the track; the controller reports success and SeaBIOS the whole count.
        count = min(count, medium.sectors - sector + 1)
    start = medium.to_lba(cylinder, head, sector)
    present = image.readable(start, count)
    if command == READ:
        data = image.read(start, present) if present else b""
        mem.write_phys(addr, data + bytes((count - present) * SECTOR_SIZE))
        return Transfer(SUCCESS, op.count)
    if present:
        image.write(start, mem.read_phys(addr, present * SECTOR_SIZE))
    return Transfer(SUCCESS, op.count) if present == count else Transfer(ECONTROLLER, 0)


def _ata(
    image: DiskImage, command: str, lba: int, count: int, addr: int, mem: PhysMemory
) -> Transfer:
    present = image.readable(lba, count)
    if present == count:
        if command == READ:
            mem.write_phys(addr, image.read(lba, count))
        else:
            image.write(lba, mem.read_phys(addr, count * SECTOR_SIZE))
        return Transfer(SUCCESS, count)
    if command == READ:
        if present:
            mem.write_phys(addr, image.read(lba, present))
        return Transfer(EBADTRACK, present)
    if present:
        image.write(lba, mem.read_phys(addr, present * SECTOR_SIZE))
    return Transfer(EBADTRACK, 0)  # measured: the sectors before the end are written, count 0
