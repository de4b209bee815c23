"""The firmware tables SeaBIOS leaves for an OS, gathered per machine, and where they go.

MP table (bt/bios/mptable.py), ACPI on pc (acpi.py), SMBIOS (smbios.py) and the PnP header
(pnpbios.py), at SeaBIOS's addresses under QEMU 7.2 (-m 128). The ones in the F segment go
into the ROM image (`rom_with_tables`), which the machine maps read-only as SeaBIOS leaves
its shadow; ACPI's RSDT and MADT go into the reserved top 128 KiB of low RAM. A Multiboot
guest (QEMU runs SeaBIOS before it) gets the same ROM and tables in RAM, with the BDA words an
OS follows to the EBDA and the end of base memory (`multiboot_chunks`).
"""

from __future__ import annotations

from bt.bios import bda
from bt.bios.acpi import acpi_tables
from bt.bios.mptable import mp_table
from bt.bios.pnpbios import pnp_header
from bt.bios.rom import ROM_BASE, ROM_SIZE, BiosRom
from bt.bios.smbios import smbios_tables
from bt.bios.tableinfo import Platform
from bt.errors import InternalError

MIN_RAM = 2 << 20  # the F segment and ACPI's zone below the top of RAM


def firmware_tables(platform: Platform, rom: BiosRom) -> tuple[tuple[int, bytes], ...]:
    """(physical address, bytes) of every table, sorted; overlapping ones are a bug of ours."""
    mp = mp_table(platform)
    sm = smbios_tables(platform, mp[0])  # SeaBIOS allocates them downwards in this order
    pieces = sorted((mp, *sm, *acpi_tables(platform, sm[0][0]), pnp_header(platform, rom)))
    for (a, data), (b, _) in zip(pieces, pieces[1:], strict=False):
        if a + len(data) > b:
            raise InternalError(f"firmware tables overlap at {b:#x}")
    return tuple(pieces)


def _in_rom(addr: int) -> bool:
    return ROM_BASE <= addr < ROM_BASE + ROM_SIZE


def rom_with_tables(rom: BiosRom, tables: tuple[tuple[int, bytes], ...]) -> bytes:
    """The ROM image with the F-segment tables written in; they may only fill its free
    space (0xFF bytes, rom.asm's padding)."""
    image = bytearray(rom.image)
    for addr, data in tables:
        if not _in_rom(addr):
            continue
        at = addr - ROM_BASE
        if image[at : at + len(data)].strip(b"\xff"):
            raise InternalError(f"firmware table at {addr:#x} overlaps the ROM's code")
        image[at : at + len(data)] = data
    return bytes(image)


def ram_tables(tables: tuple[tuple[int, bytes], ...]) -> tuple[tuple[int, bytes], ...]:
    """The tables that live in RAM, outside the ROM's 64 KiB."""
    return tuple((a, d) for a, d in tables if not _in_rom(a))


def multiboot_chunks(platform: Platform, rom: BiosRom) -> tuple[tuple[int, bytes], ...]:
    """What a Multiboot guest finds of the firmware: the ROM with its tables (the PnP entries
    are its code), the tables in RAM, the BDA's EBDA segment and base memory size and the
    EBDA's size byte, as SeaBIOS leaves them."""
    if platform.ram_size < MIN_RAM:
        return ()
    tables = firmware_tables(platform, rom)
    return (
        (bda.EBDA_SEG, bda.EBDA_SEGMENT.to_bytes(2, "little")),
        (bda.MEM_SIZE_KIB, bda.BASE_MEMORY_KIB.to_bytes(2, "little")),
        (bda.EBDA, bytes((bda.EBDA_KIB,))),
        (ROM_BASE, rom_with_tables(rom, tables)),
        *ram_tables(tables),
    )
