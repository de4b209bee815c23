"""Ps2Keyboard: the PS/2 keyboard behind the i8042, its command replies and typed scan codes.

Keyboard commands (0x60 write): 0xFF reset -> 0xFA 0xAA (scan code set 2, scanning on, LEDs
off, queue flushed), 0xF5/0xF6 reset and disable/enable -> 0xFA, 0xF4 enable -> 0xFA, 0xF2
identify -> 0xFA 0xAB 0x41 (0x83 untranslated), 0xEE echo -> 0xEE, 0xED LEDs, 0xF3 rate and
0xFC make/break take one argument (0xFA each), 0xF0 scan code set: argument 0 -> 0xFA and the
set (translated: 1 -> 0x43, 2 -> 0x41, 3 -> 0x3F), 1-3 select -> 0xFA, other -> 0xFE; 0x00 and
0xFA -> 0xFA, anything else -> 0xFE. Measured: 0xFF, 0xEE, 0xF2, 0xF0 0x00, 0xED, 0xF4, 0xFC,
0x00, 0xFA, 0x42 -> 0xFE. Writing to the keyboard clears the "keyboard disabled" bit, as a
real 8042 does (measured: 0xAD then a data byte leaves command byte 0x61).

Scan codes come from the host through `feed_scancodes` exactly as the guest will read them
(no translation is applied here); `text_to_set1` turns text into set-1 make/break codes, which
is what a guest reads with the default translation on. A guest that turns translation off or
selects set 1 or 3 still gets these bytes (QEMU would convert).
"""

from __future__ import annotations

from collections import deque

from bt.devices.records import KeyboardState
from bt.errors import BadInput

ACK, RESEND, POR, ECHO, KBD_ID = 0xFA, 0xFE, 0xAA, 0xEE, 0xAB
TRANSLATED_SET = {1: 0x43, 2: 0x41, 3: 0x3F}  # set-2 codes 1-3 through the translation table

SHIFT_MAKE, SHIFT_BREAK, BREAK = 0x2A, 0xAA, 0x80


def _set1_keys() -> dict[str, tuple[int, bool]]:
    """Character -> (set-1 make code, needs shift) on a US keyboard."""
    keys: dict[str, tuple[int, bool]] = {}
    rows = (
        (0x02, "1234567890-=", "!@#$%^&*()_+"),
        (0x10, "qwertyuiop[]", "QWERTYUIOP{}"),
        (0x1E, "asdfghjkl;'`", 'ASDFGHJKL:"~'),
        (0x2B, "\\zxcvbnm,./", "|ZXCVBNM<>?"),
    )
    for first, plain, shifted in rows:
        for i, (p, s) in enumerate(zip(plain, shifted, strict=True)):
            keys[p] = (first + i, False)
            keys[s] = (first + i, True)
    keys.update(
        {
            " ": (0x39, False),
            "\n": (0x1C, False),
            "\t": (0x0F, False),
            "\b": (0x0E, False),
            "\x1b": (0x01, False),
        }
    )
    return keys


SET1_KEYS = _set1_keys()


def text_to_set1(text: str) -> bytes:
    """Set-1 make/break codes typing `text` (ASCII; newline is Enter), shift where needed."""
    out = bytearray()
    for ch in text:
        key = SET1_KEYS.get(ch)
        if key is None:
            raise BadInput(f"no key types {ch!r} on the emulated US keyboard")
        code, shift = key
        if shift:
            out.append(SHIFT_MAKE)
        out += bytes((code, code | BREAK))
        if shift:
            out.append(SHIFT_BREAK)
    return bytes(out)


class Ps2Keyboard:
    """The PS/2 keyboard behind the controller: command replies and typed scan codes."""

    def __init__(self) -> None:
        self.replies: deque[int] = deque()
        self.scancodes: deque[int] = deque()
        self.write_cmd = -1
        self.scan_enabled = True
        self.scancode_set = 2
        self.leds = 0

    def reset(self) -> None:
        self.replies.clear()
        self.scancodes.clear()
        self.write_cmd = -1
        self.scan_enabled = True
        self.scancode_set = 2
        self.leds = 0

    def has_data(self) -> bool:
        return bool(self.replies) or (self.scan_enabled and bool(self.scancodes))

    def pop(self) -> int:
        return self.replies.popleft() if self.replies else self.scancodes.popleft()

    def command(self, value: int, translate: bool) -> None:
        """A byte the guest sent to the keyboard (QEMU's ps2_write_keyboard)."""
        pending, self.write_cmd = self.write_cmd, -1
        if pending == 0xED:
            self.leds = value
            self.replies.append(ACK)
        elif pending == 0xF0:
            if value == 0:
                current = self.scancode_set
                self.replies += (ACK, TRANSLATED_SET[current] if translate else current)
            elif value <= 3:
                self.scancode_set = value
                self.replies.append(ACK)
            else:
                self.replies.append(RESEND)
        elif pending in (0xF3, 0xFC):
            self.replies.append(ACK)
        elif value in (0xED, 0xF0, 0xF3, 0xFC):
            self.write_cmd = value
            self.replies.append(ACK)
        elif value == 0xFF:
            self.reset()
            self.replies += (ACK, POR)
        elif value in (0xF5, 0xF6):
            self.reset()
            self.scan_enabled = value == 0xF6
            self.replies.append(ACK)
        elif value == 0xF4:
            self.scan_enabled = True
            self.replies.append(ACK)
        elif value == 0xF2:
            self.replies += (ACK, KBD_ID, 0x41 if translate else 0x83)
        elif value == 0xEE:
            self.replies.append(ECHO)
        elif value in (0x00, 0xFA):
            self.replies.append(ACK)
        else:
            self.replies.append(RESEND)

    def save(self) -> KeyboardState:
        return KeyboardState(
            replies=bytes(self.replies),
            scancodes=bytes(self.scancodes),
            write_cmd=self.write_cmd,
            scan_enabled=self.scan_enabled,
            scancode_set=self.scancode_set,
            leds=self.leds,
        )

    def restore(self, st: KeyboardState) -> None:
        self.replies, self.scancodes = deque(st.replies), deque(st.scancodes)
        self.write_cmd, self.scan_enabled = st.write_cmd, st.scan_enabled
        self.scancode_set, self.leds = st.scancode_set, st.leds
