"""Unit tests of the keyboard controller against QEMU 7.2 (values measured with a probe kernel)."""

from __future__ import annotations

import pytest

from bt.devices.i8042 import I8042
from bt.devices.pic8259 import PicPair
from bt.devices.ps2keyboard import text_to_set1
from bt.errors import BadInput


class Line(list[int]):
    """An IRQ line as seen from the wire: the levels it goes through (a level driven again
    unchanged is not a transition)."""

    def drive(self, level: int) -> None:
        if (self[-1] != level) if self else level:
            self.append(level)


class Wires:
    def __init__(self) -> None:
        self.kbd = Line()
        self.aux = Line()
        self.a20: list[int] = []
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1


def make() -> tuple[I8042, Wires]:
    w = Wires()
    kbc = I8042(w.kbd.drive, w.aux.drive, w.a20.append, w.reset)
    return kbc, w


def status(kbc: I8042) -> int:
    return kbc.command.read(0, 1)


def cmd(kbc: I8042, value: int) -> None:
    kbc.command.write(0, 1, value)


def data_out(kbc: I8042, value: int) -> None:
    kbc.data.write(0, 1, value)


def drain(kbc: I8042) -> list[int]:
    out = []
    while status(kbc) & 1:
        out.append(kbc.data.read(0, 1))
    return out


def test_boot_state_as_measured() -> None:
    kbc, _ = make()
    assert status(kbc) == 0x1C
    cmd(kbc, 0x20)
    assert status(kbc) == 0x1D
    assert drain(kbc) == [0x61]
    cmd(kbc, 0xD0)
    assert drain(kbc) == [0xCF]
    assert kbc.data.read(0, 1) == 0xCF  # empty: the last byte again


def test_controller_tests_and_ports() -> None:
    kbc, _ = make()
    for command, answer in ((0xAA, 0x55), (0xAB, 0x00), (0xA9, 0x00), (0xC0, 0x80)):
        cmd(kbc, command)
        assert drain(kbc) == [answer]
    cmd(kbc, 0x20)
    assert drain(kbc) == [0x61]  # self-test leaves the command byte alone
    for silent in (0xA1, 0xE0, 0x05):
        cmd(kbc, silent)
        assert drain(kbc) == []


def test_command_byte_and_interface_enables() -> None:
    kbc, _ = make()
    cmd(kbc, 0x60)
    data_out(kbc, 0x65)
    for command, expected in ((0xAD, 0x75), (0xAE, 0x65), (0xA7, 0x65), (0xA8, 0x45)):
        cmd(kbc, command)
        cmd(kbc, 0x20)
        assert drain(kbc) == [expected]


def test_keyboard_command_replies() -> None:
    kbc, _ = make()
    cases = [
        ([0xFF], [0xFA, 0xAA]),
        ([0xEE], [0xEE]),
        ([0xF2], [0xFA, 0xAB, 0x41]),
        ([0xF0, 0x00], [0xFA, 0xFA, 0x41]),
        ([0xF0, 0x01], [0xFA, 0xFA]),
        ([0xF0, 0x00], [0xFA, 0xFA, 0x43]),
        ([0xF0, 0x07], [0xFA, 0xFE]),
        ([0xED, 0x07], [0xFA, 0xFA]),
        ([0xF4], [0xFA]),
        ([0x42], [0xFE]),
    ]
    for sent, replies in cases:
        got = []
        for byte in sent:
            data_out(kbc, byte)
            got += drain(kbc)
        assert got == replies, [hex(b) for b in sent]
    assert kbc.keyboard.leds == 0x07


def test_identify_without_translation() -> None:
    kbc, _ = make()
    cmd(kbc, 0x60)
    data_out(kbc, 0x21)
    data_out(kbc, 0xF2)
    assert drain(kbc) == [0xFA, 0xAB, 0x83]


def test_write_output_buffer_commands() -> None:
    kbc, w = make()
    cmd(kbc, 0xD2)
    data_out(kbc, 0x1E)
    assert status(kbc) == 0x1D
    assert kbc.data.read(0, 1) == 0x1E  # not translated
    cmd(kbc, 0xD3)
    data_out(kbc, 0x55)
    assert status(kbc) == 0x3D  # aux output buffer full
    assert drain(kbc) == [0x55]
    assert w.aux == []  # IRQ 12 disabled in the command byte 0x61


def test_scancodes_raise_irq1_one_edge_per_byte() -> None:
    kbc, w = make()
    kbc.feed_scancodes(bytes((0x1E, 0x9E)))
    assert w.kbd == [1]
    assert kbc.data.read(0, 1) == 0x1E
    assert w.kbd == [1, 0, 1]  # lowered by the read, raised by the next byte
    assert kbc.data.read(0, 1) == 0x9E
    assert w.kbd == [1, 0, 1, 0]
    assert status(kbc) & 1 == 0


def test_no_irq1_when_disabled_in_the_command_byte() -> None:
    kbc, w = make()
    cmd(kbc, 0x60)
    data_out(kbc, 0x60)
    kbc.feed_scancodes(b"\x1e")
    assert status(kbc) & 1
    assert w.kbd == []


def test_disabled_keyboard_holds_scancodes() -> None:
    kbc, _ = make()
    cmd(kbc, 0xAD)
    kbc.type_text("a")
    assert status(kbc) & 1 == 0
    cmd(kbc, 0xAE)
    assert drain(kbc) == [0x1E, 0x9E]


def test_replies_come_before_typed_keys_and_reset_flushes() -> None:
    kbc, _ = make()
    cmd(kbc, 0xAD)
    kbc.type_text("ab")
    data_out(kbc, 0xF4)  # writing to the keyboard re-enables its interface
    assert drain(kbc) == [0xFA, 0x1E, 0x9E, 0x30, 0xB0]
    kbc.type_text("a")  # 0x1E goes straight into the empty output buffer
    data_out(kbc, 0xFF)  # the reset drops the queued break code
    assert drain(kbc) == [0x1E, 0xFA, 0xAA]


def test_scanning_disabled_holds_keys() -> None:
    kbc, _ = make()
    data_out(kbc, 0xF5)
    assert drain(kbc) == [0xFA]
    kbc.type_text("a")
    assert drain(kbc) == []
    data_out(kbc, 0xF4)
    assert drain(kbc) == [0xFA, 0x1E, 0x9E]


def test_text_to_set1() -> None:
    assert text_to_set1("a") == bytes((0x1E, 0x9E))
    assert text_to_set1("A!") == bytes((0x2A, 0x1E, 0x9E, 0xAA, 0x2A, 0x02, 0x82, 0xAA))
    assert text_to_set1("1 \n") == bytes((0x02, 0x82, 0x39, 0xB9, 0x1C, 0x9C))
    with pytest.raises(BadInput):
        text_to_set1("é")


def test_reset_and_a20_through_the_output_port() -> None:
    kbc, w = make()
    cmd(kbc, 0xD1)
    data_out(kbc, 0xCD)  # A20 off, reset line high
    assert w.a20 == [0] and w.resets == 0
    cmd(kbc, 0xD0)
    assert drain(kbc) == [0xCD]
    cmd(kbc, 0xDF)
    assert w.a20 == [0, 1]
    cmd(kbc, 0xFE)
    assert w.resets == 1
    cmd(kbc, 0xF0)  # pulse bits 3-0 including bit 0: reset too
    assert w.resets == 2
    cmd(kbc, 0xFF)  # pulse nothing
    cmd(kbc, 0xD1)
    data_out(kbc, 0xCE)  # reset line low
    assert w.resets == 3


def test_aux_stub_answers_probes() -> None:
    kbc, _ = make()
    cmd(kbc, 0xD4)
    data_out(kbc, 0xFF)
    assert drain(kbc) == [0xFA, 0xAA, 0x00]
    cmd(kbc, 0xD4)
    data_out(kbc, 0xF2)
    assert status(kbc) & 0x21 == 0x21
    assert drain(kbc) == [0xFA, 0x00]
    cmd(kbc, 0xD4)
    data_out(kbc, 0xE9)
    assert drain(kbc) == [0xFA, 0x00, 0x02, 0x64]


def test_aux_status_at_entry_and_keyboard_oddities_as_measured() -> None:
    kbc, _ = make()
    cmd(kbc, 0xD4)
    data_out(kbc, 0xE9)
    assert drain(kbc) == [0xFA, 0x00, 0x00, 0x00]
    cmd(kbc, 0xAD)
    data_out(kbc, 0xFA)
    assert drain(kbc) == [0xFA]
    cmd(kbc, 0x20)
    assert drain(kbc) == [0x61]  # the data byte re-enabled the keyboard
    for sent, replies in (([0x00], [0xFA]), ([0xFC, 0x01], [0xFA, 0xFA])):
        got = []
        for byte in sent:
            data_out(kbc, byte)
            got += drain(kbc)
        assert got == replies


def test_command_byte_write_drives_irq1_again_after_pic_init() -> None:
    """A byte waiting since boot (typed before the kernel ran): the kernel's ICW1 makes the PIC
    forget the high line, and enabling the keyboard interrupt must give it a fresh edge (QEMU's
    kbd_update_irq drives the lines at every update)."""
    pics = PicPair()
    kbc = I8042(
        lambda lvl: pics.set_irq(1, lvl),
        lambda lvl: pics.set_irq(12, lvl),
        lambda _a: None,
        lambda: None,
    )
    kbc.type_text("x")  # the line goes high under the boot PIC setup
    for offset, value in ((0, 0x11), (1, 0x20), (1, 0x04), (1, 0x01), (1, 0xFD)):
        pics.master.write(offset, 1, value)  # remap, only IRQ 1 unmasked
    assert not pics.pending()
    cmd(kbc, 0x60)
    data_out(kbc, 0x65)
    assert pics.pending()
    assert pics.acknowledge() == 0x21
    assert kbc.data.read(0, 1) == 0x2D
