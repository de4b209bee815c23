"""VgaText: the VGA registers a text-mode kernel touches (ports 0x3B0-0x3DF) and the 80x25 screen.

The screen is guest RAM at 0xB8000 (character, attribute pairs), read through `GuestRead`; the
device owns only the registers. Reference: QEMU 7.2's std VGA after SeaVGABIOS set mode 3,
measured with a probe kernel under qemu-system-i386 -kernel:

- Misc output (0x3CC read) 0x67: colour, so the CRTC is at 0x3D4/0x3D5 and status 1 at 0x3DA;
  the mono ports 0x3B4/0x3B5/0x3BA read 0xFF (with misc bit 0 clear it is the other way round).
- CRTC index 0x0F at entry (the BIOS wrote the cursor last); registers 0x00-0x18 as
  `BOOT_CRTC`: cursor start 0x0D, end 0x0E, start address 0, cursor location 0x0280 (row 8,
  col 0, below SeaBIOS's "Booting from ROM..."). The index port keeps all 8 bits; registers
  above 0x18 read what was written (0 at first). While CR11 bit 7 is set, CR0-CR7 are
  write-protected except CR7 bit 4 (QEMU).
- Sequencer index masked to 3 bits, graphics index to 4 bits (measured: 0xFF reads back 0x07 and
  0x0F). Attribute controller: 0x3C0 is index/data by a flip-flop that a 0x3DA read resets;
  0x3C0 reads the index byte (with the palette-address-source bit 5); 0x3C1 reads the register
  at index & 0x1F (0 past 0x14).
- Status 1 (0x3DA): QEMU toggles retrace and display-enable (0x09) on every read: 0x09, 0x00...
  Status 0 (0x3C2), feature control (0x3CA), PEL mask (0x3C6: QEMU does not implement the read)
  and the rest of 0x3C0-0x3CF read 0; DAC state (0x3C7) and write index (0x3C8) read their
  values; DAC data (0x3C9) reads back what the guest wrote (the BIOS palette is not modelled).
- Other ports of the range read 0xFF. Wider accesses are split into bytes, lowest first.

`screen_text()` maps characters to Unicode through code page 437 (the VGA ROM font) with 0x00
shown as a space; `render_ansi()` draws the screen with the attribute colours for a terminal.
At Multiboot entry under QEMU the screen shows the SeaBIOS and iPXE banners (`BOOT_SCREEN`);
whether guest RAM starts with them is the machine's choice.
"""

from __future__ import annotations

from typing import Protocol

from bt.devices.records import VgaState
from bt.staterecord import check_record, require, require_range

TEXT_BASE = 0xB8000
COLS, ROWS = 80, 25
PORT_BASE = 0x3B0
PORT_COUNT = 0x30

CRTC_MONO, CRTC_COLOR = 0x3B4, 0x3D4
STATUS1_MONO, STATUS1_COLOR = 0x3BA, 0x3DA
ATTR_PAS = 0x20
ATTR_REGS = 0x15
ST01_TOGGLE = 0x09  # vertical retrace | display disabled

BOOT_MISC = 0x67
BOOT_CRTC = bytes.fromhex("5f4f50825581bf1f004f0d0e000002809c8e8f281f96b9a3ff")
BOOT_SEQ = bytes.fromhex("0300030002000000")
BOOT_GR = bytes.fromhex("0000000000100e0fff")
BOOT_ATTR = bytes.fromhex("000102030405140738393a3b3c3d3e3f0c000f0800")
BOOT_CRTC_INDEX, BOOT_SEQ_INDEX, BOOT_GR_INDEX, BOOT_ATTR_INDEX = 0x0F, 0x00, 0x05, 0x20
BOOT_SCREEN = (
    "SeaBIOS (version 1.16.2-debian-1.16.2-1)",
    "",
    "",
    "iPXE (http://ipxe.org) 00:03.0 CA00 PCI2.10 PnP PMM+06FCF100+06F0F100 CA00",
    "",
    "",
    "",
    "Booting from ROM...",
)  # rows 0-7 as measured, attribute 0x07; the cursor is at row 8

# CP437 glyphs for 0x01-0x1F and 0x7F (Python's cp437 codec maps these to control characters).
_LOW_GLYPHS = "☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼"
CP437 = (
    " "
    + _LOW_GLYPHS
    + "".join(chr(c) for c in range(0x20, 0x7F))
    + "⌂"
    + bytes(range(0x80, 0x100)).decode("cp437")
)
ANSI_OF_VGA = (0, 4, 2, 6, 1, 5, 3, 7)  # VGA colour order (BGR bits) -> ANSI colour order


class GuestRead(Protocol):
    """Reads guest physical memory."""

    def read(self, addr: int, size: int) -> bytes:
        """`size` bytes at guest physical address `addr`."""
        ...


class VgaText:
    """VGA text mode: registers on the port bus at 0x3B0-0x3DF, screen from guest memory."""

    def __init__(self, memory: GuestRead) -> None:
        self._memory = memory
        self.misc = BOOT_MISC
        self.crtc = bytearray(256)
        self.crtc[: len(BOOT_CRTC)] = BOOT_CRTC
        self.crtc_index = BOOT_CRTC_INDEX
        self.seq = bytearray(BOOT_SEQ)
        self.seq_index = BOOT_SEQ_INDEX
        self.gr = bytearray(16)
        self.gr[: len(BOOT_GR)] = BOOT_GR
        self.gr_index = BOOT_GR_INDEX
        self.attr = bytearray(BOOT_ATTR)
        self.attr_index = BOOT_ATTR_INDEX
        self._attr_data_next = False  # the 0x3C0 flip-flop
        self._st01 = 0
        self.dac = bytearray(768)
        self.dac_state = 0
        self.dac_read_index = 0
        self.dac_write_index = 0
        self._dac_sub = 0
        self._dac_latch = bytearray(3)

    # -- screen ---------------------------------------------------------------------------------
    @property
    def start_address(self) -> int:
        """CRTC 0x0C/0x0D: the character cell shown at the top left."""
        return (self.crtc[0x0C] << 8) | self.crtc[0x0D]

    def cursor(self) -> tuple[int, int]:
        """(row, col) of the hardware cursor relative to the start address."""
        pos = ((self.crtc[0x0E] << 8) | self.crtc[0x0F]) - self.start_address
        return divmod(pos % (1 << 16), COLS)

    @property
    def cursor_visible(self) -> bool:
        """CRTC 0x0A bit 5 clear and the cursor on screen."""
        row, _ = self.cursor()
        return not self.crtc[0x0A] & 0x20 and row < ROWS

    def cells(self) -> bytes:
        """The 80x25 character/attribute pairs on screen."""
        return self._memory.read(TEXT_BASE + 2 * self.start_address, 2 * COLS * ROWS)

    def screen_text(self) -> str:
        """25 lines of CP437 text, trailing spaces trimmed, joined by newlines."""
        cells = self.cells()
        lines = []
        for row in range(ROWS):
            chars = cells[2 * COLS * row : 2 * COLS * (row + 1) : 2]
            lines.append("".join(CP437[c] for c in chars).rstrip(" "))
        return "\n".join(lines)

    def render_ansi(self) -> str:
        """The screen as ANSI escapes: home, 25 coloured lines, cursor placed (or hidden)."""
        cells = self.cells()
        blink = bool(self.attr[0x10] & 0x08)  # attribute bit 7 is blink, not bright background
        out = ["\x1b[H"]
        for row in range(ROWS):
            last = -1
            for col in range(COLS):
                i = 2 * (row * COLS + col)
                ch, attr = cells[i], cells[i + 1]
                if attr != last:
                    out.append(_sgr(attr, blink))
                    last = attr
                out.append(CP437[ch])
            out.append("\x1b[0m\x1b[K")
            if row < ROWS - 1:
                out.append("\r\n")
        if self.cursor_visible:
            r, c = self.cursor()
            out.append(f"\x1b[{r + 1};{c + 1}H\x1b[?25h")
        else:
            out.append("\x1b[?25l")
        return "".join(out)

    # -- registers ------------------------------------------------------------------------------
    def _color(self) -> bool:
        return bool(self.misc & 1)

    def read(self, offset: int, size: int) -> int:
        """Read `size` bytes from port PORT_BASE + `offset` on, one port per byte."""
        value = 0
        for i in range(size):
            port = PORT_BASE + offset + i
            byte = self._read8(port) if offset + i < PORT_COUNT else 0xFF
            value |= byte << (8 * i)
        return value

    def _crtc_port(self) -> int:
        return CRTC_COLOR if self._color() else CRTC_MONO

    def _read8(self, port: int) -> int:
        crtc = self._crtc_port()
        if port == crtc:
            return self.crtc_index
        if port == crtc + 1:
            return self.crtc[self.crtc_index]
        if port == (STATUS1_COLOR if self._color() else STATUS1_MONO):
            self._attr_data_next = False
            self._st01 ^= ST01_TOGGLE
            return self._st01
        if not 0x3C0 <= port <= 0x3CF:
            return 0xFF  # the other CRTC block, and ports QEMU's VGA does not decode
        if port == 0x3C0:
            return self.attr_index
        if port == 0x3C1:
            index = self.attr_index & 0x1F
            return self.attr[index] if index < ATTR_REGS else 0
        if port == 0x3C4:
            return self.seq_index
        if port == 0x3C5:
            return self.seq[self.seq_index]
        if port == 0x3C7:
            return self.dac_state
        if port == 0x3C8:
            return self.dac_write_index
        if port == 0x3C9:
            return self._read_dac()
        if port == 0x3CC:
            return self.misc
        if port == 0x3CE:
            return self.gr_index
        if port == 0x3CF:
            return self.gr[self.gr_index]
        return 0  # 0x3C2 status 0, 0x3C6, 0x3CA feature control, 0x3CD: QEMU answers 0

    def write(self, offset: int, size: int, value: int) -> None:
        """Write `size` bytes of `value` from port PORT_BASE + `offset` on."""
        for i in range(size):
            if offset + i < PORT_COUNT:
                self._write8(PORT_BASE + offset + i, (value >> (8 * i)) & 0xFF)

    def _write8(self, port: int, value: int) -> None:
        crtc = self._crtc_port()
        if port == crtc:
            self.crtc_index = value
        elif port == crtc + 1:
            self._write_crtc(value)
        elif port == 0x3C0:
            if self._attr_data_next:
                index = self.attr_index & 0x1F
                if index < ATTR_REGS:
                    self.attr[index] = value
            else:
                self.attr_index = value & 0x3F
            self._attr_data_next = not self._attr_data_next
        elif port == 0x3C2:
            self.misc = value
        elif port == 0x3C4:
            self.seq_index = value & 0x07
        elif port == 0x3C5:
            self.seq[self.seq_index] = value
        elif port == 0x3C7:
            self.dac_read_index, self._dac_sub, self.dac_state = value, 0, 3
        elif port == 0x3C8:
            self.dac_write_index, self._dac_sub, self.dac_state = value, 0, 0
        elif port == 0x3C9:
            self._write_dac(value)
        elif port == 0x3CE:
            self.gr_index = value & 0x0F
        elif port == 0x3CF:
            self.gr[self.gr_index] = value

    def _write_crtc(self, value: int) -> None:
        index = self.crtc_index
        if self.crtc[0x11] & 0x80 and index <= 0x07:
            if index == 0x07:  # CR7 bit 4 stays writable
                self.crtc[7] = (self.crtc[7] & ~0x10) | (value & 0x10)
            return
        self.crtc[index] = value

    def _read_dac(self) -> int:
        value = self.dac[3 * self.dac_read_index + self._dac_sub]
        self._dac_sub += 1
        if self._dac_sub == 3:
            self._dac_sub = 0
            self.dac_read_index = (self.dac_read_index + 1) & 0xFF
        return value

    def _write_dac(self, value: int) -> None:
        self._dac_latch[self._dac_sub] = value & 0x3F
        self._dac_sub += 1
        if self._dac_sub == 3:
            self._dac_sub = 0
            base = 3 * self.dac_write_index
            self.dac[base : base + 3] = self._dac_latch
            self.dac_write_index = (self.dac_write_index + 1) & 0xFF

    # -- state ----------------------------------------------------------------------------------
    def save(self) -> VgaState:
        """The registers' state record (the screen is guest RAM, saved with it)."""
        return VgaState(
            misc=self.misc,
            crtc=bytes(self.crtc),
            crtc_index=self.crtc_index,
            seq=bytes(self.seq),
            seq_index=self.seq_index,
            gr=bytes(self.gr),
            gr_index=self.gr_index,
            attr=bytes(self.attr),
            attr_index=self.attr_index,
            attr_data_next=self._attr_data_next,
            st01=self._st01,
            dac=bytes(self.dac),
            dac_state=self.dac_state,
            dac_read_index=self.dac_read_index,
            dac_write_index=self.dac_write_index,
            dac_sub=self._dac_sub,
            dac_latch=bytes(self._dac_latch),
        )

    def restore(self, state: VgaState) -> None:
        """Take the state `save` returned."""
        state = check_record(state, VgaState, "vga")
        for name, size in (
            ("crtc", 256),
            ("seq", len(BOOT_SEQ)),
            ("gr", 16),
            ("attr", ATTR_REGS),
            ("dac", 768),
            ("dac_latch", 3),
        ):
            got = len(getattr(state, name))
            require(got == size, "vga", f"{name} holds {got} bytes, not {size}")
        require_range("vga", state, "misc crtc_index dac_state dac_read_index", 0, 0xFF)
        require_range("vga", state, "dac_write_index st01", 0, 0xFF)
        require_range("vga", state, "seq_index", 0, 0x07)
        require_range("vga", state, "gr_index", 0, 0x0F)
        require_range("vga", state, "attr_index", 0, 0x3F)
        require_range("vga", state, "dac_sub", 0, 2)
        self.misc = state.misc
        self.crtc[:], self.crtc_index = state.crtc, state.crtc_index
        self.seq[:], self.seq_index = state.seq, state.seq_index
        self.gr[:], self.gr_index = state.gr, state.gr_index
        self.attr[:], self.attr_index = state.attr, state.attr_index
        self._attr_data_next, self._st01 = state.attr_data_next, state.st01
        self.dac[:], self.dac_state = state.dac, state.dac_state
        self.dac_read_index, self.dac_write_index = state.dac_read_index, state.dac_write_index
        self._dac_sub, self._dac_latch[:] = state.dac_sub, state.dac_latch


def boot_screen_cells() -> bytes:
    """The 4000 bytes QEMU's screen holds at Multiboot entry (banners, attribute 0x07)."""
    cells = bytearray()
    for row in range(ROWS):
        text = BOOT_SCREEN[row] if row < len(BOOT_SCREEN) else ""
        for ch in text.ljust(COLS).encode("ascii"):
            cells += bytes((ch, 0x07))
    return bytes(cells)


def _sgr(attr: int, blink: bool) -> str:
    """The SGR escape for a VGA attribute byte."""
    fg = attr & 0x0F
    bg = (attr >> 4) & (0x07 if blink else 0x0F)
    parts = ["0"]
    parts.append(str((90 if fg & 8 else 30) + ANSI_OF_VGA[fg & 7]))
    parts.append(str((100 if bg & 8 else 40) + ANSI_OF_VGA[bg & 7]))
    if blink and attr & 0x80:
        parts.append("5")
    return f"\x1b[{';'.join(parts)}m"
