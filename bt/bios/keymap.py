"""Set-1 scan codes to the (scan << 8) | ASCII words a PC BIOS puts in its keyboard buffer.

The values are the IBM PC/AT BIOS's, as SeaBIOS 1.16's src/kbd.c (scan_to_scanascii and
__process_key) gives them: for each make code 0x01-0x58 the word with no modifier, with Shift,
with Ctrl and with Alt (0: the combination has no code), and which lock inverts Shift for
it (Caps Lock for letters, Num Lock for the keypad).
"""

from __future__ import annotations

from dataclasses import dataclass

# kbd_flag0 (0x417) bits
RSHIFT, LSHIFT, CTRL, ALT, SCROLL, NUM, CAPS = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40
# kbd_flag1 (0x418) bits
LCTRL, LALT, PAUSE, SCROLL_DOWN, NUM_DOWN, CAPS_DOWN = 0x01, 0x02, 0x08, 0x10, 0x20, 0x40
# kbd_flag2 (0x496) bits
LAST_E1, LAST_E0, RCTRL, RALT, KBD_101 = 0x01, 0x02, 0x04, 0x08, 0x10


@dataclass(frozen=True, slots=True)
class KeyWords:
    """What one make code stores in each shift state."""

    normal: int
    shift: int
    ctrl: int
    alt: int
    lock: int  # the kbd_flag0 lock bit that swaps normal and shift (CAPS, NUM or 0)


def _k(normal: int, shift: int, ctrl: int, alt: int, lock: int = 0) -> KeyWords:
    return KeyWords(normal, shift, ctrl, alt, lock)


NONE = _k(0, 0, 0, 0)
_LETTERS = "qwertyuiop" + "asdfghjkl" + "zxcvbnm"
_LETTER_CODES = list(range(0x10, 0x1A)) + list(range(0x1E, 0x27)) + list(range(0x2C, 0x33))


def _letter(code: int, char: str) -> KeyWords:
    lower = ord(char)
    return _k(
        code << 8 | lower, code << 8 | (lower - 0x20), code << 8 | (lower - 0x60), code << 8, CAPS
    )


def _build() -> tuple[KeyWords, ...]:
    table = [NONE] * 0x59
    table[0x01] = _k(0x011B, 0x011B, 0x011B, 0x0100)  # Esc
    digits = "1234567890"
    shifted = "!@#$%^&*()"
    for i, (d, s) in enumerate(zip(digits, shifted, strict=True)):
        code = 0x02 + i
        table[code] = _k(code << 8 | ord(d), code << 8 | ord(s), 0, (0x78 + i) << 8)
    table[0x03] = _k(0x0332, 0x0340, 0x0300, 0x7900)  # 2@: Ctrl gives NUL
    table[0x07] = _k(0x0736, 0x075E, 0x071E, 0x7D00)  # 6^: Ctrl gives RS
    table[0x0C] = _k(0x0C2D, 0x0C5F, 0x0C1F, 0x8200)  # -_
    table[0x0D] = _k(0x0D3D, 0x0D2B, 0, 0x8300)  # =+
    table[0x0E] = _k(0x0E08, 0x0E08, 0x0E7F, 0)  # Backspace
    table[0x0F] = _k(0x0F09, 0x0F00, 0, 0)  # Tab
    for code, char in zip(_LETTER_CODES, _LETTERS, strict=True):
        table[code] = _letter(code, char)
    table[0x1A] = _k(0x1A5B, 0x1A7B, 0x1A1B, 0)  # [{
    table[0x1B] = _k(0x1B5D, 0x1B7D, 0x1B1D, 0)  # ]}
    table[0x1C] = _k(0x1C0D, 0x1C0D, 0x1C0A, 0)  # Enter
    table[0x27] = _k(0x273B, 0x273A, 0, 0)  # ;:
    table[0x28] = _k(0x2827, 0x2822, 0, 0)  # '"
    table[0x29] = _k(0x2960, 0x297E, 0, 0)  # `~
    table[0x2B] = _k(0x2B5C, 0x2B7C, 0x2B1C, 0)  # \|
    table[0x33] = _k(0x332C, 0x333C, 0, 0)  # ,<
    table[0x34] = _k(0x342E, 0x343E, 0, 0)  # .>
    table[0x35] = _k(0x352F, 0x353F, 0, 0)  # /?
    table[0x37] = _k(0x372A, 0x372A, 0, 0)  # keypad *
    table[0x39] = _k(0x3920, 0x3920, 0x3920, 0x3920)  # space
    for i in range(10):  # F1-F10
        code = 0x3B + i
        table[code] = _k(code << 8, (0x54 + i) << 8, (0x5E + i) << 8, (0x68 + i) << 8)
    keypad = {  # code: (shifted digit, Ctrl word)
        0x47: ("7", 0x7700), 0x48: ("8", 0), 0x49: ("9", 0x8400), 0x4B: ("4", 0x7300),
        0x4C: ("5", 0), 0x4D: ("6", 0x7400), 0x4F: ("1", 0x7500), 0x50: ("2", 0),
        0x51: ("3", 0x7600), 0x52: ("0", 0), 0x53: (".", 0),
    }  # fmt: skip
    for code, (digit, ctrl) in keypad.items():
        table[code] = _k(code << 8, code << 8 | ord(digit), ctrl, 0, NUM)
    table[0x4A] = _k(0x4A2D, 0x4A2D, 0, 0)  # keypad -
    table[0x4E] = _k(0x4E2B, 0x4E2B, 0, 0)  # keypad +
    table[0x56] = _k(0x565C, 0x567C, 0, 0)  # 102nd key \|
    table[0x57] = _k(0x8500, 0x8700, 0x8900, 0x8B00)  # F11
    table[0x58] = _k(0x8600, 0x8800, 0x8A00, 0x8C00)  # F12
    return tuple(table)


KEYS = _build()


def key_word(code: int, flags0: int, extended: bool) -> int:
    """The word a make code stores given kbd_flag0 and an E0 prefix (0 for a combination
    without a code: SeaBIOS stores that 0 word too).

    The order of __process_key: Alt, then Ctrl, then an E0-prefixed cursor key (0xE0 in the
    ASCII byte: INT 16h AH=00h turns it into 0, AH=10h keeps it), then Shift (a lock that is
    on cancels it), then the lock alone.
    """
    info = KEYS[code]
    if flags0 & ALT:
        return info.alt
    if flags0 & CTRL:
        return info.ctrl
    if extended and 0x47 <= code <= 0x53:
        return (info.normal & 0xFF00) | 0xE0
    locked = bool(flags0 & info.lock)
    if flags0 & (RSHIFT | LSHIFT):
        return info.normal if locked else info.shift
    return info.shift if locked else info.normal
