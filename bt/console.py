"""HostConsole: the host terminal as the PC's keyboard (keys typed become scan codes on IRQ 1)
and, with --display, as its screen (the VGA text page redrawn live)."""

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


class HostConsole:
    """Polled by the run loop at its safe points; never blocks the guest."""

    def __init__(
        self, kbd: I8042 | None, vga: VgaText | None, out: IO[str] | None = None,
    ) -> None:
        self._kbd = kbd
        self._vga = vga
        self._out = out or sys.stdout
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

    def close(self) -> None:
        """Give the terminal back as it was; leave the cursor below the screen."""
        if self._fd is not None and self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)
            self._fd = None
        if self._vga is not None:
            self.redraw(force=True)
            self._out.write("\x1b[0m\x1b[26;1H\x1b[?25h\n")
            self._out.flush()

    def poll(self) -> None:
        """Take typed keys and refresh the screen, each at a bounded rate."""
        now = time.monotonic()
        if now - self._last_poll < POLL_S:
            return
        self._last_poll = now
        self._read_keys(0.0)
        if self._vga is not None and now - self._last_draw >= REDRAW_S:
            self._last_draw = now
            self.redraw()

    def wait(self, timeout: float) -> bool:
        """While the guest halts: wait up to `timeout` s for a key; True if one came."""
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
