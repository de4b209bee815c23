"""The built-in BIOS ROM: its table, every IVT slot, the stubs and the reset vector decoded."""

from __future__ import annotations

import capstone
import pytest

from bt.bios.rom import MARKER, ROM_SEGMENT, ROM_SIZE, load, parse
from bt.errors import InternalError

_CS16 = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_16)


def decode(offset: int, count: int) -> list[str]:
    """`count` instructions of the ROM at F000:`offset`, as 'mnemonic op_str'."""
    code = load().image[offset : offset + 64]
    out = []
    for insn in _CS16.disasm(code, offset):
        out.append(f"{insn.mnemonic} {insn.op_str}".strip())
        if len(out) == count or insn.mnemonic == "iret":
            break
    return out


EOI_MASTER = ["push ax", "mov al, 0x20", "out 0x20, al", "pop ax", "iret"]
EOI_SLAVE = ["push ax", "mov al, 0x20", "out 0xa0, al", "out 0x20, al", "pop ax", "iret"]


def test_every_service_entry_starts_with_the_marker_and_returns() -> None:
    rom = load()
    assert set(rom.entries) == {
        0x08, 0x09, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x40,
        0x70,
    }  # fmt: skip
    for vector, offset in rom.entries.items():
        assert rom.marker_at(offset), f"INT {vector:02X}h"
        after = decode(offset + len(MARKER), 8)
        if vector == 0x08:  # chains INT 1Ch, then the EOI (SeaBIOS's handle_08)
            assert after == ["int 0x1c", *EOI_MASTER]
        elif vector == 0x09:  # the INT 15h 4Fh intercept when hooked, EOI (handle_09)
            code = decode(offset + len(MARKER), 40)
            assert "int 0x15" in code and code[-5:] == [
                "mov al, 0x20",
                "out 0x20, al",
                "pop ds",
                "pop ax",
                "iret",
            ]
            key = rom.continuations[0x09]
            assert rom.marker_at(key) and offset < key < offset + 64
        elif vector == 0x70:  # the RTC's IRQ 8: EOI to both (handle_70)
            assert after == EOI_SLAVE
        else:
            assert after == ["iret"], f"INT {vector:02X}h"


def test_entries_sit_at_the_conventional_pc_addresses() -> None:
    # The IBM-compatible fixed addresses SeaBIOS also uses (VAR16FIXED in src/romlayout.S).
    conventional = {
        0x08: 0xFEA5, 0x09: 0xE987, 0x10: 0xF065, 0x11: 0xF84D, 0x12: 0xF841, 0x13: 0xE3FE,
        0x14: 0xE739, 0x15: 0xF859, 0x16: 0xE82E, 0x19: 0xE6F2, 0x1A: 0xFE6E, 0x40: 0xEC59,
    }  # fmt: skip
    rom = load()
    for vector, offset in conventional.items():
        assert rom.entries[vector] == offset
    assert rom.reset_entry == 0xE05B and rom.iret_stub == 0xFF53
    assert rom.config_table == 0xE6F5


def test_every_ivt_slot_points_at_a_marker_a_stub_a_table_or_is_null() -> None:
    rom = load()
    assert len(rom.ivt) == 256
    stubs = {rom.iret_stub: ["iret"], rom.eoi_master: EOI_MASTER, rom.eoi_slave: EOI_SLAVE}
    for vector, (seg, off) in enumerate(rom.ivt):
        if vector in (0x1F, 0x43, 0x79) or 0x60 <= vector <= 0x67:
            # SeaBIOS leaves the user vectors and 79h zero; no font in this ROM for 1Fh/43h.
            assert (seg, off) == (0, 0), f"vector {vector:02X}h"
            continue
        assert seg == ROM_SEGMENT, f"vector {vector:02X}h"
        if vector == 0x1E:
            assert off == 0xEFC7  # the diskette parameter table, data
        elif vector in rom.entries:
            assert off == rom.entries[vector]
        else:
            assert off in stubs, f"vector {vector:02X}h -> F000:{off:04X}"
            assert decode(off, len(stubs[off])) == stubs[off]
    # Hardware IRQs nobody services send their EOI: master 0Ah-0Fh, slave 71h-77h.
    assert all(rom.ivt[v][1] == rom.eoi_master for v in range(0x0A, 0x10))
    assert all(rom.ivt[v][1] == rom.eoi_slave for v in range(0x71, 0x78))


def test_reset_vector_is_a_far_jump_to_the_post_marker() -> None:
    rom = load()
    insn = next(_CS16.disasm(rom.image[0xFFF0:0xFFF5], 0xFFF0))
    assert insn.mnemonic == "ljmp"
    assert insn.op_str == f"{ROM_SEGMENT:#x}:{rom.reset_entry:#x}"
    assert rom.marker_at(rom.reset_entry)


def test_date_model_and_checksum() -> None:
    image = load().image
    assert image[0xFFF5:0xFFFD] == b"06/23/99"  # SeaBIOS's date (measured under QEMU)
    assert image[0xFFFE] == 0xFC  # model byte: AT
    assert sum(image) % 256 == 0


def test_tables_a_guest_reads() -> None:
    image = load().image
    # INT 15h C0h (measured under QEMU 7.2: 08 00 FC 00 01 74 40 00 00 00).
    assert image[0xE6F5 : 0xE6F5 + 10] == bytes.fromhex("0800fc00017440000000")
    # INT 1Eh, SeaBIOS's diskette_param_table (src/hw/floppy.c; measured the same).
    assert image[0xEFC7 : 0xEFC7 + 11] == bytes.fromhex("af02250212 1bff6cf60f08".replace(" ", ""))


def test_a_damaged_image_is_refused() -> None:
    image = bytearray(load().image)
    with pytest.raises(InternalError, match="not 65536"):
        parse(bytes(image[:100]))
    image[0] = ord("X")
    with pytest.raises(InternalError, match=r"\$BTROM"):
        parse(bytes(image))
    image = bytearray(load().image)
    offset = load().entries[0x10]
    image[offset] = 0x90
    with pytest.raises(InternalError, match="INT 10h"):
        parse(bytes(image))
    assert len(load().image) == ROM_SIZE
