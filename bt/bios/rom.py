"""The built-in BIOS ROM image (rom.bin, from rom.asm) and the entry table it carries."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bt.errors import InternalError

ROM_SEGMENT = 0xF000
ROM_BASE = ROM_SEGMENT << 4  # 0xF0000: the image maps F000:0000-F000:FFFF
ROM_SIZE = 0x10000
MARKER = b"\x0f\x0b"  # UD2: the first bytes of every service entry
SIGNATURE = b"$BTROM"
VERSION = 1
IVT_VECTORS = 256

_PATH = Path(__file__).with_name("rom.bin")


@dataclass(frozen=True, slots=True)
class BiosRom:
    """The ROM image and what its table says: where each entry and stub is, and the IVT."""

    image: bytes
    entries: dict[int, int]  # vector -> offset in F000 of its marker
    continuations: dict[int, int]  # vector -> a second marker inside its entry's code
    reset_entry: int  # the POST entry the reset vector jumps to (a marker too)
    iret_stub: int  # default handler: IRET
    eoi_master: int  # default handler of a master PIC IRQ: EOI, IRET
    eoi_slave: int  # default handler of a slave PIC IRQ: EOI to both, IRET
    config_table: int  # the system configuration table INT 15h AH=C0h points at
    pnp_entries: dict[str, tuple[int, int]]  # machine -> (protected-mode, real-mode) PnP entry
    ivt: tuple[tuple[int, int], ...]  # 256 (segment, offset) pairs, as POST writes them

    def marker_at(self, offset: int) -> bool:
        """Whether a service marker starts at F000:`offset`."""
        return self.image[offset : offset + 2] == MARKER

    def ivt_bytes(self) -> bytes:
        """The 1 KiB interrupt vector table POST copies to 0000:0000."""
        return b"".join(struct.pack("<HH", off, seg) for seg, off in self.ivt)


def parse(image: bytes) -> BiosRom:
    """Read the table at F000:0000 of `image` (see rom.asm's header comment); an image that
    does not hold it is a build problem of bt's own (InternalError), never the guest's."""
    if len(image) != ROM_SIZE:
        raise InternalError(f"BIOS ROM is {len(image)} bytes, not {ROM_SIZE}")
    if image[: len(SIGNATURE)] != SIGNATURE or image[len(SIGNATURE)] != VERSION:
        raise InternalError("BIOS ROM lacks its $BTROM table (rebuild with bt/bios/build.sh)")
    pos = len(SIGNATURE) + 1
    count = image[pos]
    pos += 1
    entries, pos = _markers(image, pos, count)
    continuations, pos = _markers(image, pos + 1, image[pos])
    reset_entry, iret_stub, eoi_master, eoi_slave, config = struct.unpack_from("<5H", image, pos)
    pc_prot, pc_real, isapc_prot, isapc_real = struct.unpack_from("<4H", image, pos + 10)
    pos += 18
    ivt = tuple(
        (seg, off) for off, seg in struct.iter_unpack("<HH", image[pos : pos + 4 * IVT_VECTORS])
    )
    return BiosRom(
        image=image,
        entries=entries,
        continuations=continuations,
        reset_entry=reset_entry,
        iret_stub=iret_stub,
        eoi_master=eoi_master,
        eoi_slave=eoi_slave,
        config_table=config,
        pnp_entries={"pc": (pc_prot, pc_real), "isapc": (isapc_prot, isapc_real)},
        ivt=ivt,
    )


def _markers(image: bytes, pos: int, count: int) -> tuple[dict[int, int], int]:
    """`count` (vector, offset) records at `pos`, each offset checked to hold a marker."""
    markers: dict[int, int] = {}
    for _ in range(count):
        vector, offset = struct.unpack_from("<BH", image, pos)
        pos += 3
        if image[offset : offset + 2] != MARKER:
            raise InternalError(
                f"BIOS ROM entry of INT {vector:02X}h at F000:{offset:04X} lacks UD2"
            )
        markers[vector] = offset
    return markers, pos


@cache
def load() -> BiosRom:
    """The committed rom.bin, parsed once."""
    return parse(_PATH.read_bytes())
