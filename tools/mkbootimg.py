"""Build the disk images of the boot guests (guests/boot/): raw floppies, hard disks, FAT12.

A raw image is zero-filled to its size, with files placed at sector numbers and sectors filled
with the test pattern the `disk` guest checks: byte i of sector LBA is (LBA * 7 + i) & 0xFF.
A FAT12 image is a 1.44 MB DOS floppy (the geometry of the boot sector's BIOS parameter
block, which the boot file must carry; the file fills the reserved sectors the BPB names, the
FATs follow them): two FATs, a 224-entry root directory, the files stored in consecutive
clusters in the order given, named by their upper-cased 8.3 names. Needs nothing but Python,
so guests/build.sh needs no mtools or dosfstools.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

SECTOR = 512
FLOPPY_144 = 2880 * SECTOR
# The FAT12 layout of a 1.44 MB floppy (as mkfs.fat -F 12 makes it, one sector a cluster),
# after the reserved sectors.
FAT_SECTORS, FATS = 9, 2
ROOT_ENTRIES = 224
ROOT_SECTORS = ROOT_ENTRIES * 32 // SECTOR
BPB_RESERVED = 14  # offset of the BPB's reserved-sector count in the boot sector
MEDIA = 0xF0
ATTR_ARCHIVE = 0x20
# 2026-12-02 00:00:00, fixed so that the image is the same at every build.
DOS_DATE = ((2026 - 1980) << 9) | (12 << 5) | 2
DOS_TIME = 0


class ImageError(Exception):
    """A file does not fit, or an argument names no valid placement."""


def pattern_sector(lba: int) -> bytes:
    """The test pattern's sector `lba`."""
    return bytes((lba * 7 + i) & 0xFF for i in range(SECTOR))


@dataclass(frozen=True, slots=True)
class Placement:
    """A file's bytes written from a sector of the image on."""

    lba: int
    data: bytes


def raw_image(size: int, files: list[Placement], patterns: list[tuple[int, int]]) -> bytes:
    """`size` bytes: the pattern's sectors (first, count), then the files over them."""
    if size % SECTOR:
        raise ImageError(f"image size {size} is not a multiple of {SECTOR}")
    image = bytearray(size)
    for first, count in patterns:
        for lba in range(first, first + count):
            image[lba * SECTOR : (lba + 1) * SECTOR] = pattern_sector(lba)
    for p in files:
        end = p.lba * SECTOR + len(p.data)
        if end > size:
            raise ImageError(f"{len(p.data)} bytes at sector {p.lba} end past the image ({size})")
        image[p.lba * SECTOR : end] = p.data
    if len(image) != size:
        raise ImageError("a placement grew the image")
    return bytes(image)


def dos_name(name: str) -> bytes:
    """The 11-byte directory name of an 8.3 file name (KEYS.COM -> b'KEYS    COM')."""
    stem, _, ext = name.upper().partition(".")
    if not stem or len(stem) > 8 or len(ext) > 3 or not (stem + ext).isascii():
        raise ImageError(f"{name}: not an 8.3 file name")
    return stem.ljust(8).encode() + ext.ljust(3).encode()


def fat12_image(boot: bytes, files: list[tuple[str, bytes]]) -> bytes:
    """A 1.44 MB FAT12 floppy with `boot` in its reserved sectors, `files` in its root."""
    if len(boot) < SECTOR or boot[510:512] != b"\x55\xaa":
        raise ImageError("the boot sector must be 512 bytes ending in 55 aa")
    reserved = int.from_bytes(boot[BPB_RESERVED : BPB_RESERVED + 2], "little")
    if reserved < 1 or len(boot) != reserved * SECTOR:
        raise ImageError(
            f"the boot file has {len(boot)} bytes, its BPB {reserved} reserved sectors"
        )
    fat_first = reserved
    root_first = fat_first + FATS * FAT_SECTORS
    data_first = root_first + ROOT_SECTORS  # cluster 2
    if len(files) > ROOT_ENTRIES:
        raise ImageError(f"{len(files)} files: the root directory holds {ROOT_ENTRIES}")
    image = bytearray(FLOPPY_144)
    image[: len(boot)] = boot
    fat = [0xF00 | MEDIA, 0xFFF]  # entries 0 and 1: the media byte, end of chain
    root = bytearray()
    cluster = 2
    for name, data in files:
        clusters = max(1, -(-len(data) // SECTOR))
        start = cluster
        for c in range(start, start + clusters):
            fat.append(c + 1 if c < start + clusters - 1 else 0xFFF)
        off = (data_first + start - 2) * SECTOR
        if off + len(data) > FLOPPY_144:
            raise ImageError(f"{name}: does not fit on the floppy")
        image[off : off + len(data)] = data
        cluster += clusters
        root += dos_name(name) + bytes([ATTR_ARCHIVE]) + bytes(10)
        root += DOS_TIME.to_bytes(2, "little") + DOS_DATE.to_bytes(2, "little")
        root += start.to_bytes(2, "little") + len(data).to_bytes(4, "little")
    packed = bytearray()
    if len(fat) % 2:
        fat.append(0)
    for a, b in zip(fat[0::2], fat[1::2], strict=True):  # two 12-bit entries in three bytes
        packed += bytes([a & 0xFF, (a >> 8) | ((b & 0x0F) << 4), b >> 4])
    if len(packed) > FAT_SECTORS * SECTOR:
        raise ImageError("the files need more clusters than one FAT maps")
    for i in range(FATS):
        off = (fat_first + i * FAT_SECTORS) * SECTOR
        image[off : off + len(packed)] = packed
    image[root_first * SECTOR : root_first * SECTOR + len(root)] = root
    return bytes(image)


def _placement(text: str) -> Placement:
    lba, sep, path = text.partition(":")
    if not sep or not lba.isdigit():
        raise ImageError(f"{text}: expected LBA:FILE")
    return Placement(int(lba), Path(path).read_bytes())


def _pattern(text: str) -> tuple[int, int]:
    first, sep, count = text.partition(":")
    if not sep or not first.isdigit() or not count.isdigit():
        raise ImageError(f"{text}: expected FIRST:COUNT")
    return int(first), int(count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    raw = sub.add_parser("raw", help="a raw image: files at sectors, pattern sectors")
    raw.add_argument("out")
    raw.add_argument("--size", type=int, default=FLOPPY_144, help="bytes (1.44 MB floppy)")
    raw.add_argument("--file", action="append", default=[], metavar="LBA:FILE")
    raw.add_argument("--pattern", action="append", default=[], metavar="FIRST:COUNT")
    fat = sub.add_parser("fat12", help="a 1.44 MB FAT12 floppy")
    fat.add_argument("out")
    fat.add_argument("--boot", required=True, metavar="FILE", help="the reserved sectors")
    fat.add_argument("files", nargs="*", metavar="FILE", help="files for the root directory")
    args = parser.parse_args(argv)
    try:
        if args.kind == "raw":
            files = [_placement(t) for t in args.file]
            image = raw_image(args.size, files, [_pattern(t) for t in args.pattern])
        else:
            named = [(Path(f).name, Path(f).read_bytes()) for f in args.files]
            image = fat12_image(Path(args.boot).read_bytes(), named)
        Path(args.out).write_bytes(image)
    except (ImageError, OSError) as exc:
        print(f"mkbootimg: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
