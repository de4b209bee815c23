"""Disk images: floppy formats and hard-disk geometry as QEMU and SeaBIOS give them, CHS <-> LBA,
the snapshot overlay, and the one-line errors of bad images."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from bt.devices.diskgeometry import Geometry
from bt.devices.diskimage import FLOPPY, HARD_DISK, DiskImage, ImageError
from bt.devices.floppyformats import FD_FORMATS, floppy_format, sensed_rate
from bt.devices.hdgeometry import LARGE, LBA, NONE, hd_geometry
from bt.errors import BadInput

KIB = 1024

# QEMU 7.2 hw/block/fdc.c fd_formats (first entry of the size, drive type "auto"), the CMOS
# type hw/i386/pc.c gives the drive and the geometry SeaBIOS's FloppyInfo has for that type.
FLOPPIES = [
    # size, (tracks, sides, sectors), CMOS type, SeaBIOS drive geometry
    (160, (40, 1, 8), 2, (80, 2, 15)),
    (180, (40, 1, 9), 2, (80, 2, 15)),
    (320, (40, 2, 8), 2, (80, 2, 15)),
    (360, (40, 2, 9), 2, (80, 2, 15)),
    (720, (80, 2, 9), 4, (80, 2, 18)),
    (1200, (80, 2, 15), 2, (80, 2, 15)),
    (1440, (80, 2, 18), 4, (80, 2, 18)),
    (1680, (80, 2, 21), 4, (80, 2, 18)),
    (2880, (80, 2, 36), 5, (80, 2, 36)),
]


def image(tmp_path: Path, size: int, name: str = "d.img", data: bytes = b"") -> str:
    path = tmp_path / name
    with path.open("wb") as fh:
        fh.truncate(size)
        fh.write(data)
    return str(path)


def patterned(tmp_path: Path, sectors: int) -> str:
    """An image whose sector k holds the dword k 128 times."""
    data = b"".join(struct.pack("<I", k) * 128 for k in range(sectors))
    return image(tmp_path, sectors * 512, data=data)


@pytest.mark.parametrize(("kib", "medium", "cmos", "drive"), FLOPPIES)
def test_floppy_geometry_of_every_format(
    tmp_path: Path, kib: int, medium: tuple[int, int, int], cmos: int, drive: tuple[int, int, int]
) -> None:
    disk = DiskImage(image(tmp_path, kib * KIB), FLOPPY)
    assert disk.geometry == Geometry(*medium)
    assert disk.sectors == Geometry(*medium).total
    assert disk.cmos_floppy_type == cmos
    assert disk.bios_geometry == Geometry(*drive)
    disk.close()


def test_every_table_entry_of_its_size_is_found_first() -> None:
    for fmt in FD_FORMATS:
        first = next(f for f in FD_FORMATS if f.geometry.total == fmt.geometry.total)
        assert floppy_format(fmt.geometry.total) == first
    assert floppy_format(1000) is None


def test_media_sense_finds_the_medium_rate_in_a_drive_of_its_size() -> None:
    for fmt in FD_FORMATS:
        if fmt.geometry.total in (k * 2 for k, *_ in FLOPPIES):
            cmos = {"120": 2, "144": 4, "288": 5}[fmt.drive]
            assert sensed_rate(cmos, fmt.rate) == fmt.rate
    assert sensed_rate(2, 3) is None  # a 1 Mb/s medium in a 5.25" drive: no candidate


def test_chs_and_lba_round_trip() -> None:
    for g in (Geometry(80, 2, 18), Geometry(40, 1, 8), Geometry(609, 32, 63)):
        for lba in range(0, g.total, 7):
            c, h, s = g.to_chs(lba)
            assert g.contains(c, h, s)
            assert g.to_lba(c, h, s) == lba
    g = Geometry(80, 2, 18)
    assert g.to_lba(0, 0, 1) == 0
    assert g.to_lba(0, 1, 1) == 18
    assert g.to_lba(1, 0, 1) == 36
    assert g.to_lba(79, 1, 18) == 2879
    assert not g.contains(0, 0, 0) and not g.contains(80, 0, 1) and not g.contains(0, 2, 1)


def _mbr(end_head: int, end_sector: int = 63) -> bytes:
    mbr = bytearray(512)
    mbr[0x1BE:0x1CE] = struct.pack("<BBBBBBBBII", 0x80, 1, 1, 0, 0x83, end_head, end_sector, 0,
                                   63, 1000)  # fmt: skip
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr)


@pytest.mark.parametrize(
    ("mib", "mbr", "pchs", "translation", "lchs"),
    [
        # guess_chs_for_size: 16 heads, 63 sectors; none up to 1024 cylinders
        (10, b"", (20, 16, 63), NONE, (20, 16, 63)),
        (0.0625, b"", (2, 16, 63), NONE, (2, 16, 63)),  # at least 2 cylinders
        # lba: 63 sectors, heads by size (sectors / 63 / 1024 -> 16, 32, 64, 128, 255)
        (600, b"", (1219, 16, 63), LBA, (609, 32, 63)),
        (3072, b"", (6241, 16, 63), LBA, (780, 128, 63)),
        (16384, b"", (16383, 16, 63), LBA, (1024, 255, 63)),  # over 63 * 255 * 1024 sectors
        # an MBR partition with <= 16 heads is the physical geometry, untranslated
        (4, _mbr(15), (8, 16, 63), NONE, (8, 16, 63)),
        (4, _mbr(3, 32), (64, 4, 32), NONE, (64, 4, 32)),
        # one with more heads: the size's geometry, large when cylinders * heads <= 131072
        (64, _mbr(254), (130, 16, 63), LARGE, (130, 16, 63)),
        (2048, _mbr(254), (4161, 16, 63), LARGE, (520, 128, 63)),
        (10, _mbr(254, 0), (20, 16, 63), NONE, (20, 16, 63)),  # sector 0: no guess
    ],
)
def test_hard_disk_geometry(
    mib: float,
    mbr: bytes,
    pchs: tuple[int, int, int],
    translation: str,
    lchs: tuple[int, int, int],
) -> None:
    geo = hd_geometry(int(mib * 2048), mbr)
    assert geo.physical == Geometry(*pchs)
    assert geo.translation == translation
    assert geo.logical == Geometry(*lchs)


def test_hard_disk_image_reads_its_mbr_for_the_geometry(tmp_path: Path) -> None:
    disk = DiskImage(image(tmp_path, 4 << 20, data=_mbr(15)), HARD_DISK)
    assert disk.geometry == Geometry(8, 16, 63)
    assert disk.sectors == 8192
    assert disk.cmos_floppy_type == 0
    disk.close()


def test_reads_by_lba(tmp_path: Path) -> None:
    disk = DiskImage(patterned(tmp_path, 2880), FLOPPY)
    data = disk.read(37, 2)
    assert data[:4] == struct.pack("<I", 37) and data[512:516] == struct.pack("<I", 38)
    assert disk.readable(2879, 4) == 1
    assert disk.readable(2880, 1) == 0
    with pytest.raises(ValueError):
        disk.read(2879, 2)
    disk.close()


def test_writes_go_to_the_file(tmp_path: Path) -> None:
    path = patterned(tmp_path, 720)
    disk = DiskImage(path, FLOPPY)
    disk.write(5, b"\xab" * 1024)
    disk.close()
    data = Path(path).read_bytes()
    assert data[5 * 512 : 7 * 512] == b"\xab" * 1024
    assert data[7 * 512 : 7 * 512 + 4] == struct.pack("<I", 7)


def test_snapshot_overlay_keeps_the_file_and_reads_back_its_writes(tmp_path: Path) -> None:
    path = patterned(tmp_path, 720)
    before = Path(path).read_bytes()
    disk = DiskImage(path, FLOPPY, snapshot=True)
    disk.write(5, b"\xab" * 1024)
    assert disk.read(4, 4) == (
        struct.pack("<I", 4) * 128 + b"\xab" * 1024 + struct.pack("<I", 7) * 128
    )
    for _ in range(2):  # every sector, twice: the overlay holds one copy of each at most
        for lba in range(disk.sectors):
            disk.write(lba, bytes([lba & 0xFF]) * 512)
    assert disk.overlay_sectors() == disk.sectors
    assert disk.read(300, 1) == bytes([300 & 0xFF]) * 512
    disk.close()
    assert Path(path).read_bytes() == before


def test_boot_signature(tmp_path: Path) -> None:
    sector = bytes(510) + b"\x55\xaa"
    disk = DiskImage(image(tmp_path, 1440 * KIB, data=sector), FLOPPY)
    assert disk.boot_sector() == sector
    disk.close()


@pytest.mark.parametrize(
    ("size", "kind", "message"),
    [
        (0, HARD_DISK, "{p}: empty disk image"),
        (1000, HARD_DISK, "{p}: 1000 bytes is not a whole number of 512-byte sectors"),
        (
            1 << 20,
            FLOPPY,
            "{p}: 1024K is no floppy format (160K, 180K, 320K, 360K, 720K, "
            "1.2M, 1.44M, 1.68M, 2.88M)",
        ),  # fmt: skip
        (1 << 20, HARD_DISK, None),
    ],
)
def test_bad_images_get_one_line(tmp_path: Path, size: int, kind: str, message: str | None) -> None:
    path = image(tmp_path, size)
    if message is None:
        DiskImage(path, kind).close()
        return
    with pytest.raises(ImageError) as info:
        DiskImage(path, kind)
    assert str(info.value) == message.format(p=path)
    assert isinstance(info.value, BadInput)  # exit status 2


def test_no_boot_signature(tmp_path: Path) -> None:
    path = image(tmp_path, 1440 * KIB)
    disk = DiskImage(path, FLOPPY)
    with pytest.raises(ImageError) as info:
        disk.boot_sector()
    assert (
        str(info.value) == f"{path}: no boot signature (0x55 0xAA at offset 510): not a boot disk"
    )
    disk.close()


def test_missing_and_directory(tmp_path: Path) -> None:
    missing = str(tmp_path / "none.img")
    with pytest.raises(ImageError) as info:
        DiskImage(missing, FLOPPY)
    assert str(info.value) == f"{missing}: cannot open: No such file or directory"
    with pytest.raises(ImageError) as info:
        DiskImage(str(tmp_path), HARD_DISK)
    assert str(info.value) == f"{tmp_path}: is a directory, not a disk image"
