"""The PnP BIOS installation structure ("$PnP") as SeaBIOS's pnpbios.c writes it.

Measured under QEMU 7.2 / SeaBIOS 1.16.2: at 0xF6060 on pc and 0xF6DD0 on isapc, version 1.0,
33 bytes, real-mode entry F000:D113 / F000:D253 and 16-bit protected-mode entry at offset
D10F / D24F of base 0xF0000, data segment F000 / base 0xF0000 (Linux: "PnPBIOS: PnP BIOS
version 1.0, entry 0xf0000:0xd24f, dseg 0xf0000" on isapc). The entries are the ROM's
(bt/bios/rom.asm), at SeaBIOS's offsets.
"""

from __future__ import annotations

import struct

from bt.bios.rom import ROM_BASE, ROM_SEGMENT, BiosRom
from bt.bios.tableinfo import Platform, with_checksum

HEADER_PC = 0xF6060
HEADER_ISAPC = 0xF6DD0
VERSION = 0x10
LENGTH = 0x21


def pnp_header(platform: Platform, rom: BiosRom) -> tuple[int, bytes]:
    """(address, bytes) of the installation structure pointing at `rom`'s entries."""
    prot_ip, real_ip = rom.pnp_entries[platform.machine]
    data = struct.pack(
        "<4sBBHBIHHHIIHI",
        b"$PnP", VERSION, LENGTH, 0, 0, 0, real_ip, ROM_SEGMENT, prot_ip, ROM_BASE, 0,
        ROM_SEGMENT, ROM_BASE,
    )  # fmt: skip
    return (HEADER_PC if platform.pc else HEADER_ISAPC), with_checksum(data, 8)
