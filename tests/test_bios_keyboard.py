"""INT 09h and INT 16h against the real i8042: scan codes in, BDA flags and buffer words out.

Expected words are the IBM/SeaBIOS table (SeaBIOS 1.16 src/kbd.c scan_to_scanascii,
__process_key, dequeue_key); the INT 16h answers also measured under QEMU 7.2 (AH=05h CX=1E61h
then 01h/00h give 1E61h, AH=09h AL=30h, AH=0Ah BX=41ABh, AH=02h/12h 0 with no key down)."""

from __future__ import annotations

from bt.bios import bda
from bt.bios.api import BootAction, Outcome, Reboot, Unsupported
from bt.bios.keyboard import KeyboardInt16, KeyboardIrq, KeyboardIrqKey
from tests.biosmachine import Machine

IRQ = KeyboardIrq()
K16 = KeyboardInt16()


def press(m: Machine, codes: bytes) -> None:
    """Each byte arrives at the controller and its IRQ 1 runs INT 09h."""
    for code in codes:
        m.kbd.feed_scancodes(bytes((code,)))
        assert m.call(IRQ, 0x09) is Outcome.DONE


def read_key(m: Machine, ah: int = 0x00) -> int:
    assert m.call(K16, 0x16, ax=ah << 8) is Outcome.DONE
    return m.cpu.reg("ax")


def test_typed_text_lands_in_the_buffer() -> None:
    m = Machine()
    m.kbd.type_text("aZ1\n")
    while m.kbd.command.read(0, 1) & 1:  # each byte in the output buffer raises IRQ 1
        m.call(IRQ, 0x09)
    assert [read_key(m) for _ in range(4)] == [0x1E61, 0x2C5A, 0x0231, 0x1C0D]
    assert m.bda8(bda.KBD_FLAG0) == 0  # Shift went down and up again


def test_modifiers_locks_and_flags() -> None:
    m = Machine()
    press(m, b"\x1d\x1e\x9d")  # Ctrl+A
    press(m, b"\x38\x1e\xb8")  # Alt+A
    press(m, b"\x3a\xba\x1e")  # Caps Lock, then a
    press(m, b"\x2a\x1e\xaa")  # Shift+A with Caps Lock on: lower case
    press(m, b"\x2a\x02\xaa")  # Shift+1: Caps does not apply to digits
    assert [read_key(m) for _ in range(5)] == [0x1E01, 0x1E00, 0x1E41, 0x1E61, 0x0221]
    assert m.bda8(bda.KBD_FLAG0) == 0x40  # Caps Lock active
    press(m, b"\x45\xc5\x47")  # Num Lock, keypad 7
    assert read_key(m) == 0x4737 and m.bda8(bda.KBD_FLAG0) == 0x60
    press(m, b"\x2a\x38")
    assert m.bda8(bda.KBD_FLAG0) == 0x6A and m.bda8(bda.KBD_FLAG1) == 0x02
    m.call(K16, 0x16, ax=0x0200)
    assert m.cpu.reg("al") == 0x6A
    press(m, b"\xe0\x1d")  # right Ctrl: kbd_flag2, shown by AH=12h
    m.call(K16, 0x16, ax=0x1200)
    assert m.cpu.reg("ax") == 0x066E and m.bda8(bda.KBD_FLAG2) == 0x14


def test_extended_keys_keep_e0_only_for_the_enhanced_calls() -> None:
    m = Machine()
    press(m, b"\xe0\x48\xe0\xc8" * 2)  # the grey Up arrow twice
    assert read_key(m, 0x10) == 0x48E0 and read_key(m, 0x00) == 0x4800
    press(m, b"\x48")  # the keypad's Up arrow (Num Lock off)
    assert read_key(m, 0x10) == 0x4800


def test_peek_leaves_the_key_and_sets_zf() -> None:
    m = Machine()
    assert m.call(K16, 0x16, ax=0x0100) is Outcome.DONE and m.cpu.flag("zf")
    press(m, b"\x39")
    m.call(K16, 0x16, ax=0x1100)
    assert m.cpu.reg("ax") == 0x3920 and not m.cpu.flag("zf")
    assert read_key(m) == 0x3920
    assert m.call(K16, 0x16, ax=0x0000) is Outcome.WAIT  # nothing left: halt until IRQ 1


def test_a_full_buffer_drops_keys() -> None:
    m = Machine()
    letters = bytes(range(0x10, 0x1A)) + bytes(range(0x1E, 0x27))  # q-p, a-l: 19 keys
    press(m, letters)
    # 16 slots with one kept free: 15 keys stored, the last four dropped (enqueue_key).
    words = []
    while m.call(K16, 0x16, ax=0x0100) is Outcome.DONE and not m.cpu.flag("zf"):
        words.append(read_key(m) >> 8)
    assert words == list(letters[:15])
    press(m, letters[:15])
    m.call(K16, 0x16, ax=0x05FF, cx=0x1234)
    assert m.cpu.reg("al") == 1  # AH=05h on a full buffer


def test_store_key_and_buffer_wrap() -> None:
    m = Machine()
    for i in range(40):  # fill and drain past the end of the 16-word ring
        m.call(K16, 0x16, ax=0x0500, cx=0x1E61 + i)
        assert m.cpu.reg("al") == 0
        assert read_key(m) == 0x1E61 + i
    assert 0x1E <= m.bda16(bda.KBD_BUF_HEAD) < 0x3E


def test_ctrl_alt_del_resets() -> None:
    m = Machine()
    press(m, b"\x1d\x38")
    m.kbd.feed_scancodes(b"\x53")
    assert m.call(IRQ, 0x09) == Reboot(0x09, BootAction.RESET)
    assert m.bda16(bda.SOFT_RESET_FLAG) == 0x1234


def test_irq_without_keyboard_data_does_nothing() -> None:
    m = Machine()
    assert m.call(IRQ, 0x09) is Outcome.DONE
    assert m.bda16(bda.KBD_BUF_HEAD) == m.bda16(bda.KBD_BUF_TAIL)


def test_pause_sequence_stores_nothing() -> None:
    m = Machine()
    press(m, b"\xe1\x1d\x45\xe1\x9d\xc5")
    assert m.bda16(bda.KBD_BUF_HEAD) == m.bda16(bda.KBD_BUF_TAIL)
    assert m.bda8(bda.KBD_FLAG0) == 0 and m.bda8(bda.KBD_FLAG2) == 0x10


def test_other_functions() -> None:
    m = Machine()
    m.call(K16, 0x16, ax=0x0900)
    assert m.cpu.reg("al") == 0x30
    m.call(K16, 0x16, ax=0x0A00, bx=0)
    assert m.cpu.reg("bx") == 0x41AB
    m.call(K16, 0x16, ax=0x0305, bx=0x0102)
    assert (m.cpu.reg("ax"), m.cpu.reg("bx")) == (0x0305, 0x0102)  # typematic: nothing
    m.call(K16, 0x16, ax=0x9200)
    assert m.cpu.reg("ah") == 0x80
    m.call(K16, 0x16, ax=0x6F08)
    assert m.cpu.reg("ah") == 2
    assert isinstance(m.call(K16, 0x16, ax=0x2000), Unsupported)


def test_a_guest_hook_on_int15_gets_the_key_first() -> None:
    m = Machine()
    m.mem.write_phys(4 * 0x15, bytes.fromhex("78563412"))  # INT 15h -> 1234:5678
    m.kbd.feed_scancodes(b"\x1e")
    assert m.call(IRQ, 0x09) is Outcome.DONE
    assert m.kbd.command.read(0, 1) & 1  # the byte is left for the ROM's code to read
    code = m.ports.read(0x60, 1)  # what the ROM does: IN, INT 15h AH=4Fh, then the marker
    assert m.call(KeyboardIrqKey(), 0x09, ax=0x4F00 | 0x30) is Outcome.DONE  # hook: 'B'
    assert code == 0x1E and read_key(m) == 0x3062
