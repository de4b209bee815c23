"""INT 10h AH=4Fh (bt/bios/vbe.py): VBE's answers for a VGA with text modes only.

Expected values are SeaVGABIOS's (SeaBIOS 1.16 vgasrc/vbe.c) where it has them; the mode list
is empty here (no VBE modes), and GRUB's Multiboot loader, which asks 4F00h and 4F03h before
it boots a kernel in text mode, gets what it needs."""

from __future__ import annotations

from bt.bios import bda
from bt.bios.api import Outcome, Unsupported
from bt.bios.video import Video
from tests.biosmachine import Machine

V = Video()
BUF = 0x7000  # ES = 0x0700, DI = 0


def far(m: Machine, at: int) -> int:
    """The linear address of the far pointer stored at `at`."""
    off = int.from_bytes(m.mem.ram[at : at + 2], "little")
    seg = int.from_bytes(m.mem.ram[at + 2 : at + 4], "little")
    return seg * 16 + off


def test_controller_info_block() -> None:
    m = Machine()
    m.mem.ram[BUF : BUF + 4] = b"VBE2"
    m.mem.ram[BUF + 0x100 : BUF + 0x200] = b"\xaa" * 0x100
    m.cpu.set_seg("es", BUF >> 4)
    assert m.call(V, 0x10, ax=0x4F00, di=0) is Outcome.DONE
    assert m.cpu.reg("ax") == 0x004F
    block = m.mem.ram[BUF : BUF + 0x200]
    assert block[0:4] == b"VESA" and block[4:6] == b"\x00\x03"  # VBE 3.0
    assert int.from_bytes(block[18:20], "little") == 4  # 256 KiB in 64 KiB units
    modes = far(m, BUF + 14)
    assert BUF + 0x22 <= modes < BUF + 0x100 and m.mem.ram[modes : modes + 2] == b"\xff\xff"
    oem = far(m, BUF + 6)
    assert m.mem.ram[oem : oem + 12] == b"bt BIOS VBE\0"
    assert block[0x100:] == b"\xaa" * 0x100  # a VBE 1.x block: the OEM area is not written


def test_current_mode_and_text_mode_set() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x4F03)
    assert (m.cpu.reg("ax"), m.cpu.reg("bx")) == (0x004F, 3)
    m.call(V, 0x10, ax=0x0E41)
    assert m.call(V, 0x10, ax=0x4F02, bx=0x8007) is Outcome.DONE  # bit 15: keep the memory
    assert m.cpu.reg("ax") == 0x004F and m.bda8(bda.VIDEO_MODE) == 7
    assert m.bda8(bda.VIDEO_CTL) & 0x80
    m.call(V, 0x10, ax=0x4F03)
    assert m.cpu.reg("bx") == 7


def test_vbe_modes_fail_and_unknown_functions_are_reported() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x4F02, bx=0x4118)  # 1024x768x24, linear: not on this VGA
    assert m.cpu.reg("ax") == 0x014F and m.bda8(bda.VIDEO_MODE) == 3
    m.call(V, 0x10, ax=0x4F01, cx=0x0003)
    assert m.cpu.reg("ax") == 0x014F
    assert m.call(V, 0x10, ax=0x4F0A, bx=0) is Outcome.DONE  # SeaVGABIOS has none either
    assert m.cpu.reg("ax") == 0x0100
    result = m.call(V, 0x10, ax=0x4F04, cx=0x000F, dx=0)
    assert isinstance(result, Unsupported) and "4F04h" in result.what
    assert m.cpu.reg("ax") == 0x0100 and not result.cf and result.code is None
