"""HostConsole: the host terminal as the PC's keyboard (keys typed become scan codes on IRQ 1)
and, with --display, as its screen (the VGA text page redrawn live, COM1 output scrolling in the
rows below it)."""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from typing import IO, Any

from bt.devices.i8042 import I8042
from bt.devices.vga import VgaText

REDRAW_S = 0.1  # at most ten screen refreshes a second
POLL_S = 0.02  # how often the terminal is looked at while the guest runs
SERIAL_TOP = 27  # COM1 scrolls from this terminal row down: 25 screen rows, a rule at row 26
MIN_SERIAL_ROWS = 2  # fewer rows below the screen: COM1 output is held until the end instead


def _terminal_rows() -> int:
    try:
        return os.get_terminal_size(sys.stdout.fileno()).lines
    except (OSError, ValueError):  # not a terminal
        return 24


class HostConsole:
    """Polled by the run loop at its safe points; never blocks the guest."""

    def __init__(
        self,
        kbd: I8042 | None,
        vga: VgaText | None,
        out: IO[str] | None = None,
        rows: int | None = None,
    ) -> None:
        self._kbd = kbd
        self._vga = vga
        self._out = out or sys.stdout
        self._rows = rows if rows is not None else _terminal_rows()
        # COM1 output goes live into a scroll region below the screen when the terminal has
        # room for it; the region keeps its own cursor (saved and restored around each write).
        self._serial_live = vga is not None and self._rows - SERIAL_TOP + 1 >= MIN_SERIAL_ROWS
        self._held = bytearray()
        self._pending = bytearray()  # live COM1 bytes not drawn yet (a line, or until a poll)
        self._serial_line_open = False
        self._fd: int | None = None
        self._saved: list[Any] | None = None
        self._last_poll = 0.0
        self._last_draw = 0.0
        self._shown: bytes | None = None
        self._shown_cursor: tuple[int, int] | None = None

    def open(self) -> None:
        """Put a terminal stdin in cbreak mode (keys arrive one by one, unechoed)."""
        if self._kbd is not None and sys.stdin.isatty():
            self._fd = sys.stdin.fileno()
            self._saved = termios.tcgetattr(self._fd)
            tty.setcbreak(self._fd, termios.TCSANOW)  # keep keys typed ahead
        if self._vga is not None:
            self._out.write("\x1b[2J")
        if self._serial_live:
            rule = "-- COM1 " + "-" * 72
            self._out.write(
                f"\x1b[{SERIAL_TOP - 1};1H\x1b[2m{rule}\x1b[0m"
                f"\x1b[{SERIAL_TOP};{self._rows}r\x1b[{SERIAL_TOP};1H\x1b7"
            )
            self._out.flush()

    def close(self) -> None:
        """Give the terminal back as it was; leave the cursor below the screen."""
        self._flush_serial()
        if self._fd is not None and self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._fd = None
        if self._vga is not None:
            self.redraw(force=True)
            if self._serial_live:  # below the COM1 text, the scroll region given back
                end = "\n" if self._serial_line_open else ""
                self._out.write(f"\x1b[0m\x1b[r\x1b8\x1b[?25h{end}")
            else:
                self._out.write("\x1b[0m\x1b[26;1H\x1b[?25h\n")
            self._out.flush()
        if self._held:
            self._write_bytes(bytes(self._held))
            self._held.clear()
        self._out.flush()

    def serial(self, data: bytes) -> None:
        """COM1 output: shown below the screen at each newline and each poll, so a prompt
        shows while the guest waits (or kept for the end if the terminal has no room)."""
        if not data:
            return
        if not self._serial_live:
            if self._vga is None:
                self._write_bytes(data)
            else:
                self._held.extend(data)
            return
        self._pending.extend(data)  # the UART sends a byte at a time: draw lines, not bytes
        if b"\n" in data:
            self._flush_serial()

    def _flush_serial(self) -> None:
        if not self._pending:
            return
        data = bytes(self._pending)
        self._pending.clear()
        self._out.write("\x1b8")  # back to where COM1 text stopped
        self._write_bytes(data)
        self._serial_line_open = not data.endswith(b"\n")
        self._out.write("\x1b7")
        self._place_cursor()
        self._out.flush()

    def _write_bytes(self, data: bytes) -> None:
        buf = getattr(self._out, "buffer", None)
        if buf is None:
            self._out.write(data.decode("latin-1"))
            return
        self._out.flush()
        buf.write(data)
        buf.flush()

    def _place_cursor(self) -> None:
        """Put the terminal cursor back on the guest's VGA cursor."""
        vga = self._vga
        if vga is None:
            return
        if vga.cursor_visible:
            r, c = vga.cursor()
            self._out.write(f"\x1b[{r + 1};{c + 1}H\x1b[?25h")
        else:
            self._out.write("\x1b[?25l")

    def poll(self) -> None:
        """Take typed keys and refresh the screen, each at a bounded rate."""
        now = time.monotonic()
        if now - self._last_poll < POLL_S:
            return
        self._last_poll = now
        self._flush_serial()
        self._read_keys(0.0)
        if self._vga is not None and now - self._last_draw >= REDRAW_S:
            self._last_draw = now
            self.redraw()

    def wait(self, timeout: float) -> bool:
        """While the guest halts: wait up to `timeout` s for a key; True if one came."""
        self._flush_serial()
        if self._vga is not None:
            self.redraw()
        if self._fd is None:
            return False
        return self._read_keys(timeout)

    def _read_keys(self, timeout: float) -> bool:
        if self._fd is None or self._kbd is None:
            return False
        ready, _, _ = select.select([self._fd], [], [], timeout)
        if not ready:
            return False
        data = os.read(self._fd, 64)
        if not data:
            return False
        self._kbd.type_text(data.decode("latin-1").replace("\x7f", "\b"))
        return True

    def redraw(self, force: bool = False) -> None:
        """Draw the text screen if it changed since the last drawing."""
        vga = self._vga
        if vga is None:
            return
        cells, cursor = vga.cells(), vga.cursor()
        if not force and cells == self._shown and cursor == self._shown_cursor:
            return
        self._shown, self._shown_cursor = cells, cursor
        self._out.write(vga.render_ansi())
        self._out.flush()
