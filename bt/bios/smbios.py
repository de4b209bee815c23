"""SMBIOS: SeaBIOS's own 2.4 tables on isapc, the 2.8 tables QEMU hands SeaBIOS on pc.

Measured under QEMU 7.2 / SeaBIOS 1.16.2 (-m 128, one CPU): on isapc the entry point at
0xF6800 and its structures at 0xF6820 (SeaBIOS's smbios_legacy_setup: "Bochs", BIOS date
01/01/2011, types 0, 1, 3, 4, 16, 17, 19, 20, 32, 127); on pc the entry point at 0xF59F0 and
the structures at 0xF5A10 (QEMU's hw/smbios/smbios.c through fw_cfg: "QEMU", "Standard PC
(i440FX + PIIX, 1996)", the BIOS "SeaBIOS" 1.16.2-debian-1.16.2-1 04/01/2014; types 0, 1, 3,
4, 16, 17, 19, 32, 127). Linux prints "DMI: <manufacturer> <product>, BIOS <version> <date>"
from types 1 and 0. Memory: one array of the RAM in KiB, one DIMM per 16 GiB, one mapped range
per block of RAM (below 4 GiB, above it; -m 3584 on pc measured too).

SeaBIOS allocates the F-segment tables downwards: the structures end just below the MP
floating pointer (pc: 0xF5A10 at -m 128, lower when RAM adds structures), the entry point 32
bytes below them, the RSDP (bt/bios/acpi.py) 32 bytes below that.
"""

from __future__ import annotations

import struct

from bt.bios.tableinfo import Platform, with_checksum
from bt.devices.cmos_layout import ram_split

ENTRY_SIZE = 31
FSEG_ALIGN = 16  # SeaBIOS's malloc_fseg alignment
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
DIMM_MAX = 16 * GIB
BIOS_CHARACTERISTICS = 0x08  # "BIOS characteristics not supported"
QEMU_VERSION = b"pc-i440fx-7.2"


def structure(kind: int, handle: int, fields: bytes, strings: tuple[bytes, ...] = ()) -> bytes:
    """One structure: header, formatted area, string set (double NUL when empty)."""
    head = struct.pack("<BBH", kind, 4 + len(fields), handle) + fields
    return head + (b"".join(s + b"\0" for s in strings) + b"\0" if strings else b"\0\0")


def entry_point(version: tuple[int, int], table: bytes, table_addr: int, count: int) -> bytes:
    """The 2.x entry point "_SM_" with its intermediate "_DMI_" anchor."""
    largest = max(len(s) for s in _split(table))
    major, minor = version
    dmi = struct.pack("<5sBHIHB", b"_DMI_", 0, len(table), table_addr, count, major << 4 | minor)
    dmi = with_checksum(dmi, 5)
    head = struct.pack("<4sBBBBHB5s", b"_SM_", 0, ENTRY_SIZE, major, minor, largest, 0, bytes(5))
    return with_checksum(head + dmi, 4)


def _split(table: bytes) -> list[bytes]:
    """The structures of `table`, each with its strings."""
    out, at = [], 0
    while at < len(table):
        end = table.index(b"\0\0", at + table[at + 1]) + 2
        out.append(table[at:end])
        at = end
    return out


def _regions(ram_size: int) -> list[tuple[int, int]]:
    """[start, end) of the RAM blocks: below 4 GiB, and above it if any."""
    split = ram_split(ram_size)
    out = [(0, split.below_4g)]
    if split.above_4g:
        out.append((1 << 32, (1 << 32) + split.above_4g))
    return out


def legacy_tables(platform: Platform) -> list[bytes]:
    """SeaBIOS's smbios_legacy_setup (isapc): SMBIOS 2.4."""
    bochs = (b"Bochs",)
    ram_kib = platform.ram_size // KIB
    out = [
        structure(0, 0x000, struct.pack("<BBHBBQBBBBBB", 1, 2, 0xE800, 3, 0,
                  BIOS_CHARACTERISTICS, 0, 0x04, 1, 0, 0xFF, 0xFF),
                  (b"Bochs", b"Bochs", b"01/01/2011")),
        structure(1, 0x100, struct.pack("<BBBB16sBBB", 1, 2, 0, 0, bytes(16), 6, 0, 0),
                  (b"Bochs", b"Bochs")),
        structure(3, 0x300, struct.pack("<BBBBBBBBBIBBB", 1, 1, 0, 0, 0, 3, 3, 3, 2, 0, 0, 0, 0),
                  bochs),
        structure(4, 0x401, struct.pack("<BBBBIIBBHHHBBHHH", 1, 3, 1, 2, platform.cpu_signature,
                  platform.cpu_features, 0, 0, 0, 2000, 2000, 0x41, 1, 0xFFFF, 0xFFFF, 0xFFFF),
                  (b"CPU 1", b"Bochs")),
        structure(16, 0x1000, struct.pack("<BBBIHH", 1, 3, 6, ram_kib, 0xFFFE, _dimms(platform))),
    ]  # fmt: skip
    for i, size in enumerate(_dimm_sizes(platform.ram_size)):
        fields = struct.pack("<HHHHHBBBBBH", 0x1000, 0, 64, 64, size // MIB, 9, 0, 1, 0, 7, 0)
        out.append(structure(17, 0x1100 + i, fields, (b"DIMM %d" % i,)))
    for i, (start, end) in enumerate(_regions(platform.ram_size)):
        fields = struct.pack("<IIHB", start // KIB, end // KIB - 1, 0x1000, 1)
        out.append(structure(19, 0x1300 + i, fields))
    for i, (start, end) in enumerate(_regions(platform.ram_size)):
        fields = struct.pack("<IIHHBBB", start // KIB, end // KIB - 1, 0x1100, 0x1300 + i, 1, 0, 0)
        out.append(structure(20, 0x1400 + i, fields))
    return out + _tail()


def qemu_tables(platform: Platform) -> list[bytes]:
    """QEMU's smbios_get_tables for pc-i440fx-7.2 (SMBIOS 2.8), as SeaBIOS copies them."""
    ram_kib = platform.ram_size // KIB
    out = [
        structure(0, 0x000, struct.pack("<BBHBBQBBBBBB", 1, 2, 0xE800, 3, 0,
                  BIOS_CHARACTERISTICS, 0, 0x04, 0, 0, 0xFF, 0xFF),
                  (b"SeaBIOS", b"1.16.2-debian-1.16.2-1", b"04/01/2014")),
        structure(1, 0x100, struct.pack("<BBBB16sBBB", 1, 2, 3, 0, bytes(16), 6, 0, 0),
                  (b"QEMU", b"Standard PC (i440FX + PIIX, 1996)", QEMU_VERSION)),
        structure(3, 0x300, struct.pack("<BBBBBBBBBIBBBBB", 1, 1, 2, 0, 0, 3, 3, 3, 2, 0, 0, 0, 0,
                  0, 0), (b"QEMU", QEMU_VERSION)),
        structure(4, 0x400, struct.pack("<BBBBIIBBHHHBBHHHBBBBBBHH", 1, 3, 1, 2,
                  platform.cpu_signature, platform.cpu_features, 3, 0, 0, 2000, 2000, 0x41, 1,
                  0xFFFF, 0xFFFF, 0xFFFF, 0, 0, 0, 1, 1, 1, 0x0002, 0x0001),
                  (b"CPU 0", b"QEMU", QEMU_VERSION)),
        structure(16, 0x1000, struct.pack("<BBBIHHQ", 1, 3, 6, ram_kib, 0xFFFE, _dimms(platform),
                  0)),
    ]  # fmt: skip
    for i, size in enumerate(_dimm_sizes(platform.ram_size)):
        fields = struct.pack(
            "<HHHHHBBBBBHHBBBBBIHHHH",
            0x1000, 0xFFFE, 0xFFFF, 0xFFFF, size // MIB, 9, 0, 1, 0, 7, 0x0002, 0, 2, 0, 0, 0, 0,
            0, 0, 0, 0, 0,
        )  # fmt: skip
        out.append(structure(17, 0x1100 + i, fields, (b"DIMM %d" % i, b"QEMU")))
    for i, (start, end) in enumerate(_regions(platform.ram_size)):
        fields = struct.pack("<IIHBQQ", start // KIB, end // KIB - 1, 0x1000, 1, 0, 0)
        out.append(structure(19, 0x1300 + i, fields))
    return out + _tail()


def _tail() -> list[bytes]:
    """Type 32 (boot status: no errors) and the end-of-table structure."""
    return [structure(32, 0x2000, bytes(7)), structure(127, 0x7F00, b"")]


def _dimm_sizes(ram_size: int) -> list[int]:
    sizes, left = [], ram_size
    while left > 0:
        sizes.append(min(left, DIMM_MAX))
        left -= DIMM_MAX
    return sizes


def _dimms(platform: Platform) -> int:
    return len(_dimm_sizes(platform.ram_size))


def fseg_below(top: int, size: int) -> int:
    """Where SeaBIOS's downward F-segment allocation puts `size` bytes that end below `top`."""
    return (top - size) & ~(FSEG_ALIGN - 1)


def smbios_tables(platform: Platform, below: int) -> tuple[tuple[int, bytes], ...]:
    """(address, bytes) of the entry point and of the structure table, allocated below the
    address `below` (the MP floating pointer)."""
    if platform.pc:
        version, structs = (2, 8), qemu_tables(platform)
    else:
        version, structs = (2, 4), legacy_tables(platform)
    table = b"".join(structs)
    table_addr = fseg_below(below, len(table))
    entry = fseg_below(table_addr, ENTRY_SIZE)
    return (entry, entry_point(version, table, table_addr, len(structs))), (table_addr, table)
