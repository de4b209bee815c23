"""Unit tests of VGA text mode: the screen from guest memory, cursor, QEMU's register answers."""

from __future__ import annotations

from bt.devices.vga import (
    PORT_BASE,
    TEXT_BASE,
    VgaText,
    boot_screen_cells,
)


class FakeMemory:
    def __init__(self) -> None:
        self.ram = bytearray(0x100000)

    def read(self, addr: int, size: int) -> bytes:
        return bytes(self.ram[addr : addr + size])

    def put(self, row: int, col: int, text: bytes, attr: int = 0x07) -> None:
        for i, ch in enumerate(text):
            at = TEXT_BASE + 2 * (row * 80 + col + i)
            self.ram[at : at + 2] = bytes((ch, attr))


def make() -> tuple[FakeMemory, VgaText]:
    mem = FakeMemory()
    mem.ram[TEXT_BASE : TEXT_BASE + 4000] = boot_screen_cells()
    return mem, VgaText(mem)


def inb(vga: VgaText, port: int) -> int:
    return vga.read(port - PORT_BASE, 1)


def outb(vga: VgaText, port: int, value: int) -> None:
    vga.write(port - PORT_BASE, 1, value)


def test_boot_screen_and_cursor_as_measured() -> None:
    _, vga = make()
    lines = vga.screen_text().split("\n")
    assert len(lines) == 25
    assert lines[0] == "SeaBIOS (version 1.16.2-debian-1.16.2-1)"
    assert lines[7] == "Booting from ROM..."
    assert lines[8:] == [""] * 17
    assert vga.cursor() == (8, 0)
    assert vga.cursor_visible


def test_screen_text_follows_memory_and_maps_cp437() -> None:
    mem, vga = make()
    mem.put(10, 2, b"hi\x01\xdb\x00x  ")
    assert vga.screen_text().split("\n")[10] == "  hi☺█ x"


def test_cursor_set_through_crtc_with_a_16_bit_out() -> None:
    _, vga = make()
    pos = 12 * 80 + 34
    vga.write(0x3D4 - PORT_BASE, 2, ((pos >> 8) << 8) | 0x0E)
    vga.write(0x3D4 - PORT_BASE, 2, ((pos & 0xFF) << 8) | 0x0F)
    assert vga.cursor() == (12, 34)
    assert inb(vga, 0x3D4) == 0x0F
    assert inb(vga, 0x3D5) == pos & 0xFF
    outb(vga, 0x3D4, 0x0A)
    outb(vga, 0x3D5, 0x20)  # cursor off
    assert not vga.cursor_visible


def test_start_address_scrolls_the_screen() -> None:
    mem, vga = make()
    outb(vga, 0x3D4, 0x0D)
    outb(vga, 0x3D5, 80)  # start one row down
    assert vga.screen_text().split("\n")[2].startswith("iPXE (http://ipxe.org)")
    assert vga.cursor() == (7, 0)


def test_register_reads_as_measured() -> None:
    _, vga = make()
    assert inb(vga, 0x3CC) == 0x67
    assert inb(vga, 0x3D4) == 0x0F
    crtc = []
    for i in range(0x19):
        outb(vga, 0x3D4, i)
        crtc.append(inb(vga, 0x3D5))
    assert bytes(crtc).hex() == "5f4f50825581bf1f004f0d0e000002809c8e8f281f96b9a3ff"
    outb(vga, 0x3C4, 0xFF)
    assert inb(vga, 0x3C4) == 0x07
    outb(vga, 0x3CE, 0xFF)
    assert inb(vga, 0x3CE) == 0x0F
    outb(vga, 0x3CE, 0x06)
    assert inb(vga, 0x3CF) == 0x0E
    for port in (0x3B4, 0x3B5, 0x3BA, 0x3D0, 0x3DF):
        assert inb(vga, port) == 0xFF
    for port in (0x3C2, 0x3C6, 0x3CA, 0x3CD):
        assert inb(vga, port) == 0x00


def test_status1_toggles_and_resets_the_attribute_flip_flop() -> None:
    _, vga = make()
    assert [inb(vga, 0x3DA) for _ in range(4)] == [0x09, 0x00, 0x09, 0x00]
    assert inb(vga, 0x3C0) == 0x20
    outb(vga, 0x3C0, 0x06)  # index (palette source off)
    assert inb(vga, 0x3C1) == 0x14
    outb(vga, 0x3C0, 0x3A)  # data
    assert inb(vga, 0x3C1) == 0x3A
    outb(vga, 0x3C0, 0x20)  # index again: the flip-flop toggled back
    assert inb(vga, 0x3C0) == 0x20
    outb(vga, 0x3C0, 0x11)  # data for register 0 (index 0x20 & 0x1F)
    inb(vga, 0x3DA)
    outb(vga, 0x3C0, 0x00)
    assert inb(vga, 0x3C1) == 0x11


def test_crtc_write_protect() -> None:
    _, vga = make()
    outb(vga, 0x3D4, 0x01)
    outb(vga, 0x3D5, 0x12)
    assert inb(vga, 0x3D5) == 0x4F  # CR11 bit 7 locks CR0-CR7
    outb(vga, 0x3D4, 0x07)
    outb(vga, 0x3D5, 0x00)
    assert inb(vga, 0x3D5) == 0x0F  # only bit 4 may change
    outb(vga, 0x3D4, 0x11)
    outb(vga, 0x3D5, 0x0E)
    outb(vga, 0x3D4, 0x01)
    outb(vga, 0x3D5, 0x12)
    assert inb(vga, 0x3D5) == 0x12


def test_dac_round_trip() -> None:
    _, vga = make()
    outb(vga, 0x3C8, 5)
    for v in (0x3F, 0x20, 0x01):
        outb(vga, 0x3C9, v)
    assert inb(vga, 0x3C8) == 6
    outb(vga, 0x3C7, 5)
    assert inb(vga, 0x3C7) == 3
    assert [inb(vga, 0x3C9) for _ in range(3)] == [0x3F, 0x20, 0x01]


def test_render_ansi() -> None:
    mem, vga = make()
    mem.put(0, 0, b"X", attr=0x1E)  # yellow on blue
    out = vga.render_ansi()
    assert out.startswith("\x1b[H\x1b[0;93;44mX")
    assert "Booting from ROM..." in out
    assert out.endswith("\x1b[9;1H\x1b[?25h")
    assert out.count("\r\n") == 24
