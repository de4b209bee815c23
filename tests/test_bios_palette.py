"""INT 10h AH=10h on the real VGA device: palette registers, blink/intensity and the DAC
(SeaVGABIOS's handle_1010xx; the same calls are compared with QEMU in test_bios_qemu.py)."""

from __future__ import annotations

from bt.bios.api import Outcome, Unsupported
from bt.bios.video import Video
from tests.biosmachine import Machine

V = Video()


def test_palette_registers_and_overscan() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x1000, bx=0x3F06)
    assert m.vga.attr[6] == 0x3F
    m.call(V, 0x10, ax=0x1007, bx=0x0006)
    assert m.cpu.reg("bh") == 0x3F
    m.call(V, 0x10, ax=0x1001, bx=0x0500)
    m.call(V, 0x10, ax=0x1008)
    assert m.cpu.reg("bh") == 0x05 and m.vga.attr[0x11] == 0x05
    m.mem.write_phys(0x1000, bytes(range(16, 33)))
    m.call(V, 0x10, ax=0x1002, es=0x0100, dx=0)
    m.call(V, 0x10, ax=0x1009, es=0x0100, dx=0x0100)
    assert m.mem.read_phys(0x1100, 17) == bytes(range(16, 33))
    assert m.vga.attr_index & 0x20  # the index was put back with palette access on


def test_blink_toggle_and_dac_state() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x1003, bx=0x0000)
    assert not m.vga.attr[0x10] & 0x08  # bright backgrounds
    m.call(V, 0x10, ax=0x1003, bx=0x0001)
    assert m.vga.attr[0x10] & 0x08
    m.call(V, 0x10, ax=0x101A)
    assert (m.cpu.reg("bl"), m.cpu.reg("bh")) == (0, 0)


def test_dac_write_and_read_back() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x1010, bx=0x0007, dx=0x2A00, cx=0x151F)
    m.call(V, 0x10, ax=0x1015, bx=0x0007, dx=0, cx=0)
    assert (m.cpu.reg("dh"), m.cpu.reg("ch"), m.cpu.reg("cl")) == (0x2A, 0x15, 0x1F)
    m.mem.write_phys(0x2000, bytes((1, 2, 3, 4, 5, 6)))
    m.call(V, 0x10, ax=0x1012, bx=0x0010, cx=2, es=0x0200, dx=0)
    m.call(V, 0x10, ax=0x1017, bx=0x0010, cx=2, es=0x0200, dx=0x10)
    assert m.mem.read_phys(0x2010, 6) == bytes((1, 2, 3, 4, 5, 6))
    assert m.vga.dac[0x30:0x36] == bytes((1, 2, 3, 4, 5, 6))


def test_unknown_subfunction_changes_nothing() -> None:
    m = Machine()
    result = m.call(V, 0x10, ax=0x101B, bx=0, cx=0)
    assert isinstance(result, Unsupported) and not result.cf and result.code is None
    assert m.call(V, 0x10, ax=0x1018, bx=0x00FF) is Outcome.DONE
