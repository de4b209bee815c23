"""INT 10h: the text-mode video services (modes 2, 3 and 7), as SeaVGABIOS performs them.

The reference is SeaBIOS 1.16's vgasrc/vgabios.c (handle_10xx, vga_set_mode, write_teletype,
verify_scroll, get_cursor_shape) with the screen in guest memory (0xB8000 colour, 0xB0000 mono)
and the cursor and display start in the CRTC registers (bt/devices/vga.py), reached through
the ports as the VGA BIOS reaches them; the BIOS data area fields stay in step. Text mode
ignores the colour in BL of AH=0Eh (SeaVGABIOS writes the character only), and a line that
scrolls in is blank with attribute 0x07.

The palette and DAC functions (AH=10h) are bt/bios/palette.py, VBE (AH=4Fh) bt/bios/vbe.py.
Not here: graphics modes, 40-column modes, the CGA palette (AH=0Bh), font loading (AH=11h
but 30h), and font data: this ROM has no font, so AH=1130h BH=2-7 returns a null ES:BP (CX
and DL as SeaBIOS's). Mode 7 sets the BDA, the mono misc-output value (0x66, moving the CRTC
to 0x3B4) and the cursor, not the full mono register set.
"""

from __future__ import annotations

from bt.bios import bda
from bt.bios.api import BiosCall, Outcome, ServiceResult, Unsupported
from bt.bios.palette import palette
from bt.bios.vbe import vbe
from bt.devices.vga import BOOT_CRTC

COLOR_TEXT, MONO_TEXT = 0xB8000, 0xB0000
CRTC_COLOR, CRTC_MONO = 0x3D4, 0x3B4
VIDEO_MEMORY = 0x8000  # what a text mode set clears (SeaVGABIOS: 32 KiB)
BLANK = 0x0720  # space on light grey
TEXT_MODES = {2: (CRTC_COLOR, 16), 3: (CRTC_COLOR, 16), 7: (CRTC_MONO, 14)}
MISC_COLOR, MISC_MONO = 0x67, 0x66
COLS, ROWS = 80, 25
PAGE_SIZE = 0x1000  # SeaVGABIOS's calc_page_size for 80x25 text (4000 rounded to 2 KiB)
DEFAULT_CURSOR = 0x0607
VIDEO_CTL_NOCLEAR = 0x80


class Video:
    """The INT 10h service."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        cpu = call.cpu
        ah = cpu.reg("ah")
        if ah == 0x00:
            return self._set_mode(call)
        if ah == 0x01:
            _set_cursor_shape(call, cpu.reg("cx"))
        elif ah == 0x02:
            _set_cursor_pos(call, cpu.reg("bh"), cpu.reg("dh"), cpu.reg("dl"))
        elif ah == 0x03:
            page, row, col = _cursor_pos(call, cpu.reg("bh"))
            cpu.set_reg("cx", bda.read16(call.mem, bda.CURSOR_TYPE))
            cpu.set_reg("dh", row)
            cpu.set_reg("dl", col)
        elif ah == 0x05:
            _set_active_page(call, cpu.reg("al"))
        elif ah in (0x06, 0x07):
            _scroll(call, up=ah == 0x06)
        elif ah == 0x08:
            page, row, col = _cursor_pos(call, cpu.reg("bh"))
            cell = call.mem.read_phys(_cell_addr(call, page, row, col), 2)
            cpu.set_reg("al", cell[0])
            cpu.set_reg("ah", cell[1])
        elif ah in (0x09, 0x0A):
            page, row, col = _cursor_pos(call, cpu.reg("bh"))
            attr = cpu.reg("bl") if ah == 0x09 else None
            for _ in range(cpu.reg("cx")):
                row, col = _write_char(call, page, row, col, cpu.reg("al"), attr)
        elif ah == 0x0E:
            page, row, col = _cursor_pos(call, 0xFF)
            row, col = _teletype(call, page, row, col, cpu.reg("al"), None)
            _set_cursor_pos(call, page, row, col)
        elif ah == 0x0F:
            cpu.set_reg("bh", bda.read8(call.mem, bda.VIDEO_PAGE))
            ctl = bda.read8(call.mem, bda.VIDEO_CTL) & VIDEO_CTL_NOCLEAR
            cpu.set_reg("al", bda.read8(call.mem, bda.VIDEO_MODE) | ctl)
            cpu.set_reg("ah", bda.read16(call.mem, bda.VIDEO_COLS))
        elif ah == 0x10:
            return palette(call)
        elif ah == 0x11:
            return _font_info(call)
        elif ah == 0x12:
            return _alternate_select(call)
        elif ah == 0x13:
            _write_string(call)
        elif ah == 0x1A:
            return _display_combination(call)
        elif ah == 0x4F:
            return vbe(call, self._set_mode)
        else:
            return _unsupported(ah, f"INT 10h AH={ah:02X}h")
        return Outcome.DONE

    def _set_mode(self, call: BiosCall) -> ServiceResult:
        """AH=00h (vgabios.c handle_1000 and vga_set_mode)."""
        cpu, mem = call.cpu, call.mem
        al = cpu.reg("al")
        mode = al & 0x7F
        if mode not in TEXT_MODES:
            return _unsupported(0x00, f"INT 10h AH=00h mode {mode:02X}h")
        # handle_1000 sets AL before the mode set: 0x30 for the text modes.
        cpu.set_reg("al", 0x30)
        crtc, char_height = TEXT_MODES[mode]
        call.ports.write(0x3C2, 1, MISC_MONO if crtc == CRTC_MONO else MISC_COLOR)
        if crtc == CRTC_COLOR:
            _crtc_write(call, crtc, 0x11, BOOT_CRTC[0x11] & 0x7F)  # unlock CR0-CR7
            # Mode 3's registers as SeaVGABIOS leaves them (measured), cursor at the origin.
            for index, value in enumerate(BOOT_CRTC[:0x0E] + b"\x00\x00" + BOOT_CRTC[0x10:]):
                _crtc_write(call, crtc, index, value)
        else:
            _crtc_write(call, crtc, 0x0A, char_height - 3)
            _crtc_write(call, crtc, 0x0B, char_height - 2)
            for index in (0x0C, 0x0D, 0x0E, 0x0F):
                _crtc_write(call, crtc, index, 0)
        if not al & 0x80:
            base = MONO_TEXT if crtc == CRTC_MONO else COLOR_TEXT
            mem.write_phys(base, BLANK.to_bytes(2, "little") * (VIDEO_MEMORY // 2))
        bda.write8(mem, bda.VIDEO_MODE, mode)
        bda.write16(mem, bda.VIDEO_COLS, COLS)
        bda.write8(mem, bda.VIDEO_ROWS, ROWS - 1)
        bda.write16(mem, bda.CURSOR_TYPE, DEFAULT_CURSOR)
        bda.write16(mem, bda.VIDEO_PAGESIZE, PAGE_SIZE)
        bda.write16(mem, bda.CRTC_ADDRESS, crtc)
        bda.write16(mem, bda.CHAR_HEIGHT, char_height)
        bda.write8(mem, bda.VIDEO_CTL, 0x60 | (al & 0x80))
        bda.write8(mem, bda.VIDEO_SWITCHES, 0xF9)
        bda.write8(mem, bda.MODESET_CTL, bda.read8(mem, bda.MODESET_CTL) & 0x7F)
        mem.write_phys(bda.CURSOR_POS, bytes(16))
        bda.write16(mem, bda.VIDEO_PAGESTART, 0)
        bda.write8(mem, bda.VIDEO_PAGE, 0)
        return Outcome.DONE


def _crtc_write(call: BiosCall, crtc: int, index: int, value: int) -> None:
    call.ports.write(crtc, 1, index)
    call.ports.write(crtc + 1, 1, value)


def _crtc(call: BiosCall) -> int:
    return bda.read16(call.mem, bda.CRTC_ADDRESS)


def _text_base(call: BiosCall) -> int:
    return MONO_TEXT if _crtc(call) == CRTC_MONO else COLOR_TEXT


def _text_offset(call: BiosCall, page: int, row: int, col: int) -> int:
    """Byte offset of a cell in video memory (SeaVGABIOS's text_address)."""
    cols = bda.read16(call.mem, bda.VIDEO_COLS)
    pagesize = bda.read16(call.mem, bda.VIDEO_PAGESIZE)
    return page * pagesize + (row * cols + col) * 2


def _cell_addr(call: BiosCall, page: int, row: int, col: int) -> int:
    return _text_base(call) + _text_offset(call, page, row, col)


def _cursor_pos(call: BiosCall, page: int) -> tuple[int, int, int]:
    """(page, row, column) of `page`'s cursor; 0xFF is the active page (get_cursor_pos)."""
    if page == 0xFF:
        page = bda.read8(call.mem, bda.VIDEO_PAGE)
    if page > 7:
        return 0xFE, 0, 0
    pos = bda.read16(call.mem, bda.CURSOR_POS + 2 * page)
    return page, pos >> 8, pos & 0xFF


def _set_cursor_pos(call: BiosCall, page: int, row: int, col: int) -> None:
    """BDA cursor of `page`, and the CRTC's when `page` is shown (set_cursor_pos)."""
    if page > 7:
        return
    bda.write16(call.mem, bda.CURSOR_POS + 2 * page, ((row & 0xFF) << 8) | (col & 0xFF))
    if page != bda.read8(call.mem, bda.VIDEO_PAGE):
        return
    location = _text_offset(call, page, row & 0xFF, col & 0xFF) // 2
    crtc = _crtc(call)
    _crtc_write(call, crtc, 0x0E, (location >> 8) & 0xFF)
    _crtc_write(call, crtc, 0x0F, location & 0xFF)


def _set_cursor_shape(call: BiosCall, cursor_type: int) -> None:
    """AH=01h: BDA 0x460 and CRTC 0x0A/0x0B, scaled from CGA's 8 lines (get_cursor_shape)."""
    mem = call.mem
    bda.write16(mem, bda.CURSOR_TYPE, cursor_type)
    shape = cursor_type
    if not bda.read8(mem, bda.VIDEO_CTL) & 0x01:  # cursor emulation on
        start, end = (cursor_type >> 8) & 0x3F, cursor_type & 0x1F
        height = bda.read16(mem, bda.CHAR_HEIGHT)
        if height > 8 and end < 8 and start < 0x20:
            if end != start + 1:
                start = (start + 1) * height // 8 - 1
            else:
                start = (end + 1) * height // 8 - 2
            end = (end + 1) * height // 8 - 1
            shape = (start << 8) | end
    crtc = _crtc(call)
    _crtc_write(call, crtc, 0x0A, (shape >> 8) & 0xFF)
    _crtc_write(call, crtc, 0x0B, shape & 0xFF)


def _set_active_page(call: BiosCall, page: int) -> None:
    """AH=05h: the display start moves to the page, whose cursor is then shown."""
    if page > 7:
        return
    address = _text_offset(call, page, 0, 0)
    crtc = _crtc(call)
    _crtc_write(call, crtc, 0x0C, (address // 2) >> 8)
    _crtc_write(call, crtc, 0x0D, (address // 2) & 0xFF)
    bda.write16(call.mem, bda.VIDEO_PAGESTART, address)
    bda.write8(call.mem, bda.VIDEO_PAGE, page)
    _, row, col = _cursor_pos(call, page)
    _set_cursor_pos(call, page, row, col)


def _write_char(
    call: BiosCall, page: int, row: int, col: int, char: int, attr: int | None
) -> tuple[int, int]:
    """Store one character (and attribute) and step the position (write_char)."""
    addr = _cell_addr(call, page, row, col)
    if attr is None:
        call.mem.write_phys(addr, bytes((char,)))
    else:
        call.mem.write_phys(addr, bytes((char, attr)))
    col += 1
    if col == bda.read16(call.mem, bda.VIDEO_COLS):
        col, row = 0, row + 1
    return row, col


def _teletype(
    call: BiosCall, page: int, row: int, col: int, char: int, attr: int | None
) -> tuple[int, int]:
    """Write `char` as a terminal would: BEL, BS, CR, LF, scrolling (write_teletype)."""
    if char == 0x07:
        pass  # SeaVGABIOS does not beep
    elif char == 0x08:
        col = max(col - 1, 0)
    elif char == 0x0D:
        col = 0
    elif char == 0x0A:
        row += 1
    else:
        row, col = _write_char(call, page, row, col, char, attr)
    last = bda.read8(call.mem, bda.VIDEO_ROWS)
    if row > last:
        row -= 1
        cols = bda.read16(call.mem, bda.VIDEO_COLS)
        _move(call, page, (0, 0), (1, 0), cols, last)
        _clear(call, page, (last, 0), cols, 1, 0x07)
    return row, col


def _move(
    call: BiosCall, page: int, dest: tuple[int, int], src: tuple[int, int], cols: int, rows: int
) -> None:
    """Copy a `rows` x `cols` block of cells from `src` (row, col) to `dest`."""
    order = range(rows) if dest[0] <= src[0] else range(rows - 1, -1, -1)
    for i in order:
        data = call.mem.read_phys(_cell_addr(call, page, src[0] + i, src[1]), 2 * cols)
        call.mem.write_phys(_cell_addr(call, page, dest[0] + i, dest[1]), data)


def _clear(call: BiosCall, page: int, at: tuple[int, int], cols: int, rows: int, attr: int) -> None:
    """Fill a block with spaces of `attr`."""
    cells = bytes((0x20, attr)) * cols
    for i in range(rows):
        call.mem.write_phys(_cell_addr(call, page, at[0] + i, at[1]), cells)


def _scroll(call: BiosCall, up: bool) -> None:
    """AH=06h/07h: scroll the window CH,CL-DH,DL by AL lines (0: clear) (verify_scroll)."""
    cpu = call.cpu
    ulx, uly, lrx, lry = cpu.reg("cl"), cpu.reg("ch"), cpu.reg("dl"), cpu.reg("dh")
    nbrows = bda.read8(call.mem, bda.VIDEO_ROWS) + 1
    nbcols = bda.read16(call.mem, bda.VIDEO_COLS)
    lry = min(lry, nbrows - 1)
    lrx = min(lrx, nbcols - 1)
    wincols, winrows = lrx - ulx + 1, lry - uly + 1
    if wincols <= 0 or winrows <= 0:
        return
    page = bda.read8(call.mem, bda.VIDEO_PAGE)
    attr = cpu.reg("bh")
    lines = cpu.reg("al")
    movelines = winrows - lines
    if not lines or movelines <= 0:
        _clear(call, page, (uly, ulx), wincols, winrows, attr)
    elif up:
        _move(call, page, (uly, ulx), (uly + lines, ulx), wincols, movelines)
        _clear(call, page, (uly + movelines, ulx), wincols, lines, attr)
    else:
        _move(call, page, (uly + lines, ulx), (uly, ulx), wincols, movelines)
        _clear(call, page, (uly, ulx), wincols, lines, attr)


def _write_string(call: BiosCall) -> None:
    """AH=13h: ES:BP, CX characters (AL bit 1: with attributes), at DH,DL of page BH."""
    cpu = call.cpu
    if cpu.reg("dh") == 0xFF:
        page, row, col = _cursor_pos(call, cpu.reg("bh"))
    else:
        page, row, col = cpu.reg("bh"), cpu.reg("dh"), cpu.reg("dl")
    mode, attr, offset = cpu.reg("al"), cpu.reg("bl"), cpu.reg("bp")
    for _ in range(cpu.reg("cx")):
        char = call.mem.read_phys(cpu.linear("es", offset), 1)[0]
        offset += 1
        if mode & 0x02:
            attr = call.mem.read_phys(cpu.linear("es", offset), 1)[0]
            offset += 1
        row, col = _teletype(call, page, row, col, char, attr)
    if mode & 0x01:
        _set_cursor_pos(call, page, row, col)


def _font_info(call: BiosCall) -> ServiceResult:
    """AH=11h AL=30h BH=0/1: the font pointers of INT 1Fh and 43h, CX and DL."""
    cpu = call.cpu
    al, bh = cpu.reg("al"), cpu.reg("bh")
    if al != 0x30:
        return _unsupported(0x11, f"INT 10h AX=11{al:02X}h (font load)")
    # BH=2-7 name the VGA BIOS's own fonts, which this ROM does not carry: ES:BP is null
    # there, CX and DL what SeaBIOS returns (the current font's height, the rows - 1).
    pointer = bda.read32(call.mem, 4 * (0x1F if bh == 0 else 0x43)) if bh <= 1 else 0
    cpu.set_seg("es", pointer >> 16)
    cpu.set_reg("bp", pointer & 0xFFFF)
    cpu.set_reg("cx", bda.read16(call.mem, bda.CHAR_HEIGHT) & 0xFF)
    cpu.set_reg("dl", bda.read8(call.mem, bda.VIDEO_ROWS))
    return Outcome.DONE


def _alternate_select(call: BiosCall) -> ServiceResult:
    """AH=12h BL=10h: EGA/VGA information (handle_101210)."""
    cpu = call.cpu
    bl = cpu.reg("bl")
    if bl != 0x10:
        return _unsupported(0x12, f"INT 10h AH=12h BL={bl:02X}h")
    cpu.set_reg("bx", 0x0103 if _crtc(call) == CRTC_MONO else 0x0003)
    cpu.set_reg("cx", bda.read8(call.mem, bda.VIDEO_SWITCHES) & 0x0F)
    return Outcome.DONE


def _display_combination(call: BiosCall) -> ServiceResult:
    """AH=1Ah: AL=00h read (BX = the DCC index), 01h write; AL returns 1Ah (handle_101a)."""
    cpu = call.cpu
    al = cpu.reg("al")
    if al == 0x00:
        cpu.set_reg("bx", bda.read8(call.mem, bda.DCC_INDEX))
    elif al == 0x01:
        bda.write8(call.mem, bda.DCC_INDEX, cpu.reg("bl"))
    else:
        return _unsupported(0x1A, f"INT 10h AX=1A{al:02X}h")
    cpu.set_reg("al", 0x1A)
    return Outcome.DONE


def _unsupported(ah: int, what: str) -> Unsupported:
    """SeaVGABIOS ignores what it does not know: no register, CF included, changes."""
    return Unsupported(0x10, ah, what, cf=False, code=None)
