"""INT 10h against the real VGA device: screen memory, cursor registers and BDA in step.

Expected values are SeaVGABIOS's (SeaBIOS 1.16 vgasrc/vgabios.c), the query results also
measured under QEMU 7.2 with a probe boot sector (AH=0Fh 0x5003, AH=1A00h BX=8, AH=1210h
BX=3 CX=9, AH=03h CX=0x0607 DX=0x0800 after the boot banner)."""

from __future__ import annotations

from bt.bios import bda
from bt.bios.api import Outcome, Unsupported
from bt.bios.video import Video
from tests.biosmachine import Machine

V = Video()


def row_text(m: Machine, row: int) -> str:
    return m.vga.screen_text().split("\n")[row]


def cell(m: Machine, row: int, col: int, page: int = 0) -> tuple[int, int]:
    at = 0xB8000 + page * 0x1000 + 2 * (row * 80 + col)
    return m.mem.ram[at], m.mem.ram[at + 1]


def test_queries_after_post() -> None:
    m = Machine()
    assert m.call(V, 0x10, ax=0x0F00) is Outcome.DONE
    assert (m.cpu.reg("ax"), m.cpu.reg("bh")) == (0x5003, 0)
    m.call(V, 0x10, ax=0x0300, bx=0)
    assert (m.cpu.reg("cx"), m.cpu.reg("dx")) == (0x0607, 0x0800)
    m.call(V, 0x10, ax=0x1A00)
    assert (m.cpu.reg("ax"), m.cpu.reg("bx")) == (0x1A1A, 0x0008)
    m.call(V, 0x10, ax=0x1200, bx=0x0010)
    assert (m.cpu.reg("bx"), m.cpu.reg("cx")) == (0x0003, 0x0009)
    m.call(V, 0x10, ax=0x0800, bx=0)  # the blank cell under the cursor
    assert m.cpu.reg("ax") == 0x0720


def test_mode_set_clears_and_resets_the_state() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x0003)
    assert m.cpu.reg("al") == 0x30  # handle_1000
    assert m.vga.screen_text().strip() == "" and m.vga.cursor() == (0, 0)
    assert cell(m, 24, 79) == (0x20, 0x07)
    assert m.bda16(bda.CURSOR_POS) == 0 and m.bda8(bda.VIDEO_CTL) == 0x60
    m.call(V, 0x10, ax=0x0E41)
    m.call(V, 0x10, ax=0x0083)  # bit 7: keep the memory
    assert cell(m, 0, 0) == (0x41, 0x07) and m.bda8(bda.VIDEO_CTL) == 0xE0
    m.call(V, 0x10, ax=0x0F00)
    assert m.cpu.reg("al") == 0x83  # the no-clear bit shows in AH=0Fh


def test_mode_7_moves_the_crtc_and_unknown_modes_are_unsupported() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x0007)
    assert m.bda16(bda.CRTC_ADDRESS) == 0x3B4 and m.bda8(bda.VIDEO_MODE) == 7
    assert m.vga.misc & 1 == 0 and m.mem.ram[0xB0000:0xB0002] == b"\x20\x07"
    m.call(V, 0x10, ax=0x1200, bx=0x0010)
    assert m.cpu.reg("bx") == 0x0103
    result = m.call(V, 0x10, ax=0x0013)
    assert isinstance(result, Unsupported) and "mode 13h" in result.what


def test_teletype_control_characters_and_wrap() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x0003)
    for ch in b"AB\x08C\rD\nE\x07":
        m.call(V, 0x10, ax=0x0E00 | ch, bx=0x004F)
    # BS steps back over B, CR returns to column 0 (D overwrites A), LF goes down a row
    # keeping the column, BEL prints nothing; BL is ignored in text mode.
    assert row_text(m, 0) == "DC" and row_text(m, 1) == " E"
    assert cell(m, 0, 0)[1] == 0x07
    assert m.vga.cursor() == (1, 2) and m.bda16(bda.CURSOR_POS) == 0x0102
    m.call(V, 0x10, ax=0x0200, bx=0, dx=0x004F)  # row 0, column 79
    m.call(V, 0x10, ax=0x0E58)
    assert m.vga.cursor() == (1, 0)


def test_teletype_scrolls_at_the_bottom_with_a_grey_blank_line() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x0003)
    m.call(V, 0x10, ax=0x0941, bx=0x001E, cx=1)  # 'A' in yellow on blue at (0, 0)
    m.call(V, 0x10, ax=0x0200, bx=0, dx=0x1800)  # row 24
    m.call(V, 0x10, ax=0x0E5A)
    m.call(V, 0x10, ax=0x0E0A)
    assert row_text(m, 0) == "" and row_text(m, 23) == "Z" and row_text(m, 24) == ""
    assert cell(m, 24, 0) == (0x20, 0x07) and m.vga.cursor() == (24, 1)


def test_write_char_attr_and_char_only() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x0003)
    m.call(V, 0x10, ax=0x0200, bx=0, dx=0x0102)
    m.call(V, 0x10, ax=0x092A, bx=0x0071, cx=3)
    assert [cell(m, 1, c) for c in (2, 3, 4, 5)] == [(0x2A, 0x71)] * 3 + [(0x20, 0x07)]
    m.call(V, 0x10, ax=0x0A2B, bx=0x0000, cx=2)
    assert [cell(m, 1, c) for c in (2, 3, 4)] == [(0x2B, 0x71), (0x2B, 0x71), (0x2A, 0x71)]
    assert m.vga.cursor() == (1, 2)  # AH=09h/0Ah do not move the cursor
    m.call(V, 0x10, ax=0x0800, bx=0)
    assert m.cpu.reg("ax") == 0x712B


def test_scroll_window_up_down_and_clear() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x0003)
    for row in range(5):
        m.call(V, 0x10, ax=0x0200, bx=0, dx=row << 8)
        m.call(V, 0x10, ax=0x0930 + row, bx=0x0007, cx=10)
    m.call(V, 0x10, ax=0x0601, bx=0x1F00, cx=0x0102, dx=0x0305)  # rows 1-3, cols 2-5, up 1
    assert row_text(m, 1) == "1122221111" and row_text(m, 3) == "33    3333"
    assert cell(m, 3, 2) == (0x20, 0x1F) and cell(m, 3, 6) == (0x33, 0x07)
    m.call(V, 0x10, ax=0x0702, bx=0x7000, cx=0x0000, dx=0x044F)  # rows 0-4 down 2
    assert row_text(m, 2) == "0000000000" and row_text(m, 0) == ""
    assert cell(m, 0, 0) == (0x20, 0x70)
    m.call(V, 0x10, ax=0x0600, bx=0x0700, cx=0, dx=0xFFFF)  # AL=0 clears, clipped
    assert m.vga.screen_text().strip() == ""


def test_cursor_shape_is_scaled_to_16_lines() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x0100, cx=0x0607)
    # get_cursor_shape: end == start + 1 -> start (7+1)*16/8-2 = 14, end 15.
    assert (m.vga.crtc[0x0A], m.vga.crtc[0x0B]) == (0x0E, 0x0F)
    m.call(V, 0x10, ax=0x0100, cx=0x0007)
    assert (m.vga.crtc[0x0A], m.vga.crtc[0x0B]) == (0x01, 0x0F)
    m.call(V, 0x10, ax=0x0100, cx=0x2000)  # bit 5 of the start: hidden, not scaled
    assert m.vga.crtc[0x0A] == 0x20 and not m.vga.cursor_visible
    assert m.bda16(bda.CURSOR_TYPE) == 0x2000


def test_pages_move_the_display_start() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x0003)
    m.call(V, 0x10, ax=0x0200, bx=0x0100, dx=0x0203)  # page 1's cursor: no CRTC change
    assert m.vga.cursor() == (0, 0) and m.bda16(bda.CURSOR_POS + 2) == 0x0203
    m.call(V, 0x10, ax=0x0501)
    assert m.vga.start_address == 0x800 and m.bda8(bda.VIDEO_PAGE) == 1
    assert m.bda16(bda.VIDEO_PAGESTART) == 0x1000 and m.vga.cursor() == (2, 3)
    m.call(V, 0x10, ax=0x0E21)
    assert cell(m, 2, 3, page=1) == (0x21, 0x07) and cell(m, 2, 3) == (0x20, 0x07)


def test_write_string_with_attributes() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x0003)
    m.mem.ram[0x600:0x606] = b"H\x1fi\x2e!\x4f"
    m.call(V, 0x10, ax=0x1303, bx=0x0000, cx=3, dx=0x0A05, es=0x0060, bp=0)
    assert [cell(m, 10, c) for c in (5, 6, 7)] == [(0x48, 0x1F), (0x69, 0x2E), (0x21, 0x4F)]
    assert m.vga.cursor() == (10, 8)


def test_font_info_and_unsupported_functions() -> None:
    m = Machine()
    m.call(V, 0x10, ax=0x1130, bx=0x0000)
    assert (m.cpu.seg("es"), m.cpu.reg("bp")) == (0, 0)  # no font: INT 1Fh is null
    assert (m.cpu.reg("cx"), m.cpu.reg("dl")) == (16, 24)
    # The VGA BIOS's own fonts (BH=2-7): not in this ROM, so ES:BP is null; CX and DL as
    # SeaBIOS gives them (guests/boot/bios.asm compares them with QEMU).
    m.call(V, 0x10, ax=0x1130, bx=0x0600, es=0x1234, bp=0x5678)
    assert (m.cpu.seg("es"), m.cpu.reg("bp"), m.cpu.reg("cx"), m.cpu.reg("dl")) == (0, 0, 16, 24)
    for ax, bx in ((0x1111, 0), (0x4F04, 0), (0x0B00, 0)):
        assert isinstance(m.call(V, 0x10, ax=ax, bx=bx), Unsupported)
