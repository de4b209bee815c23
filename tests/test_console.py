"""HostConsole with --display: COM1 output shows at once in the rows below the VGA screen (a
prompt without a newline included), and is held for the end only when the terminal is short."""

from __future__ import annotations

import io

from bt.console import SERIAL_TOP, HostConsole
from bt.devices.vga import TEXT_BASE, VgaText, boot_screen_cells


class FakeMemory:
    def __init__(self) -> None:
        self.ram = bytearray(0x100000)
        self.ram[TEXT_BASE : TEXT_BASE + 4000] = boot_screen_cells()

    def read(self, addr: int, size: int) -> bytes:
        return bytes(self.ram[addr : addr + size])


def terminal() -> tuple[io.BytesIO, io.TextIOWrapper]:
    raw = io.BytesIO()
    return raw, io.TextIOWrapper(raw, encoding="utf-8", write_through=True)


def test_serial_prompt_is_shown_while_the_guest_runs() -> None:
    raw, out = terminal()
    console = HostConsole(None, VgaText(FakeMemory()), out, rows=40)
    console.open()
    assert f"\x1b[{SERIAL_TOP};40r".encode() in raw.getvalue()  # the scroll region below
    console.redraw()
    drawn = len(raw.getvalue())
    console.serial(b"boot ok\n")  # a whole line shows at once
    shown = raw.getvalue()[drawn:]
    # Back to COM1's own cursor, the text, COM1's cursor saved, the VGA cursor put back.
    assert shown.startswith(b"\x1b8boot ok\n\x1b7")
    drawn = len(raw.getvalue())
    for byte in b"login: ":  # the UART sends byte by byte
        console.serial(bytes((byte,)))
    console.wait(0.0)  # the guest waits for a key: the prompt is on the screen by then
    assert raw.getvalue()[drawn:].startswith(b"\x1b8login: \x1b7")
    console.close()
    tail = raw.getvalue()
    assert tail.count(b"login: ") == 1  # not repeated at the end
    assert tail.endswith(b"\x1b[r\x1b8\x1b[?25h\n")  # region given back, below the prompt


def test_short_terminal_holds_serial_until_the_end() -> None:
    raw, out = terminal()
    console = HostConsole(None, VgaText(FakeMemory()), out, rows=24)
    console.open()
    console.serial(b"hello\n")
    assert b"hello" not in raw.getvalue()
    console.close()
    assert raw.getvalue().endswith(b"hello\n")


def test_without_display_serial_passes_straight_through() -> None:
    raw, out = terminal()
    console = HostConsole(None, None, out, rows=24)
    console.open()
    console.serial(b"abc")
    assert raw.getvalue() == b"abc"
    console.close()
