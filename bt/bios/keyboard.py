"""INT 09h (the keyboard IRQ) and INT 16h (keyboard services) over the BDA's key buffer.

The reference is SeaBIOS 1.16's src/kbd.c (enqueue_key, dequeue_key, handle_16xx,
__process_key) and handle_09 in src/ps2port.c:

- INT 09h reads the i8042 status (0x64): with no keyboard byte waiting (OBF clear, or the byte
  is the mouse's) it does nothing; else it reads port 0x60 and processes the set-1 code:
  Shift, Ctrl, Alt, the locks and the E0/E1 prefixes update the flags at 0x417, 0x418 and
  0x496; a make code stores its word (bt/bios/keymap.py) at the buffer's tail; a full buffer
  (tail + 2 == head) drops the key; releases store nothing; Ctrl+Alt+Del sets the soft-reset
  flag 0x1234 and resets the machine. The ROM's entry sends the EOI afterwards.
  SeaBIOS first offers the code to INT 15h AH=4Fh (the keyboard intercept: CF clear on return
  takes the key, AL may be changed). While INT 15h is this ROM's, whose 4Fh keeps CF set and AL,
  the service does all at once; when a guest has hooked INT 15h the service leaves the byte
  to the ROM's code, which reads it, calls INT 15h and then, if CF is still set, reaches a
  second marker whose service (KeyboardIrqKey) processes the code in AL.
  Not done: the keyboard LEDs are not updated (SeaBIOS sends the keyboard an 0xED command on
  the next INT 16h call).
- INT 16h AH=00h/10h read the next key, or WAIT while the buffer is empty (SeaBIOS halts with
  interrupts on until one arrives); 01h/11h peek (ZF set when empty); 00h and 01h turn the
  0xE0 of extended keys into 0; 02h/12h the shift flags; 05h stores CX (AL = 1 when full);
  09h capabilities 0x30; 0Ah keyboard ID 0x41AB (what the emulated keyboard answers, through
  the controller's translation); 92h AH = 0x80; A2h nothing; 6Fh AL=08h AH = 2. AH=03h
  (typematic rate) changes nothing, as in SeaBIOS (it has no handler: registers unchanged).
"""

from __future__ import annotations

from bt.bios import bda, keymap
from bt.bios.api import (
    BiosCall,
    BootAction,
    Outcome,
    PhysMemory,
    Reboot,
    ServiceResult,
    Unsupported,
)
from bt.bios.keymap import (
    ALT,
    CAPS,
    CAPS_DOWN,
    CTRL,
    LALT,
    LAST_E0,
    LAST_E1,
    LCTRL,
    LSHIFT,
    NUM,
    NUM_DOWN,
    RALT,
    RCTRL,
    RSHIFT,
    SCROLL,
    SCROLL_DOWN,
)
from bt.bios.rom import ROM_SEGMENT, load

I8042_DATA, I8042_STATUS = 0x60, 0x64
STATUS_OBF, STATUS_AUX = 0x01, 0x20
KEYBOARD_ID = 0x41AB
SOFT_RESET_WARM = 0x1234


def enqueue_key(mem: PhysMemory, word: int) -> bool:
    """Store `word` at the buffer's tail; False when the buffer is full (enqueue_key)."""
    start = bda.read16(mem, bda.KBD_BUF_START)
    end = bda.read16(mem, bda.KBD_BUF_END)
    head = bda.read16(mem, bda.KBD_BUF_HEAD)
    tail = bda.read16(mem, bda.KBD_BUF_TAIL)
    new_tail = tail + 2
    if new_tail >= end:
        new_tail = start
    if new_tail == head:
        return False
    bda.write16(mem, bda.BDA + tail, word)
    bda.write16(mem, bda.KBD_BUF_TAIL, new_tail)
    return True


def _peek(mem: PhysMemory) -> int | None:
    head = bda.read16(mem, bda.KBD_BUF_HEAD)
    if head == bda.read16(mem, bda.KBD_BUF_TAIL):
        return None
    return bda.read16(mem, bda.BDA + head)


def _drop(mem: PhysMemory) -> None:
    head = bda.read16(mem, bda.KBD_BUF_HEAD) + 2
    if head >= bda.read16(mem, bda.KBD_BUF_END):
        head = bda.read16(mem, bda.KBD_BUF_START)
    bda.write16(mem, bda.KBD_BUF_HEAD, head)


def _returned(word: int, extended: bool) -> int:
    """dequeue_key's view of a stored word: 0xF0 and, for the old calls, 0xE0 become 0."""
    ascii_code, scan = word & 0xFF, word >> 8
    if (ascii_code == 0xF0 and scan) or (ascii_code == 0xE0 and not extended):
        ascii_code = 0
    return (scan << 8) | ascii_code


class KeyboardInt16:
    """The INT 16h service."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        cpu, mem = call.cpu, call.mem
        ah = cpu.reg("ah")
        if ah in (0x00, 0x10, 0x01, 0x11):
            word = _peek(mem)
            extended = ah >= 0x10
            if ah in (0x00, 0x10):
                if word is None:
                    return Outcome.WAIT
                _drop(mem)
                cpu.set_reg("ax", _returned(word, extended))
            elif word is None:
                cpu.set_flag("zf", True)
            else:
                cpu.set_reg("ax", _returned(word, extended))
                cpu.set_flag("zf", False)
        elif ah == 0x02:
            cpu.set_reg("al", bda.read8(mem, bda.KBD_FLAG0))
        elif ah == 0x03:
            pass  # no handler in SeaBIOS: the call changes nothing
        elif ah == 0x05:
            cpu.set_reg("al", int(not enqueue_key(mem, cpu.reg("cx"))))
        elif ah == 0x09:
            cpu.set_reg("al", 0x30)  # AH=0Ah and AH=10h-12h supported
        elif ah == 0x0A:
            cpu.set_reg("bx", KEYBOARD_ID)
        elif ah == 0x12:
            flags1 = bda.read8(mem, bda.KBD_FLAG1)
            flags2 = bda.read8(mem, bda.KBD_FLAG2)
            cpu.set_reg("al", bda.read8(mem, bda.KBD_FLAG0))
            cpu.set_reg("ah", (flags1 & ~(RCTRL | RALT)) | (flags2 & (RCTRL | RALT)))
        elif ah == 0x92:
            cpu.set_reg("ah", 0x80)
        elif ah == 0xA2:
            pass  # 122-key functions not supported: AH stays
        elif ah == 0x6F:
            if cpu.reg("al") == 0x08:
                cpu.set_reg("ah", 2)
        else:
            return Unsupported(0x16, ah, f"INT 16h AH={ah:02X}h", cf=False, code=None)
        return Outcome.DONE


def int15_hooked(mem: PhysMemory) -> bool:
    """Whether INT 15h points elsewhere than this ROM's entry (a guest's intercept)."""
    return bda.read32(mem, 4 * 0x15) != (ROM_SEGMENT << 16 | load().entries[0x15])


class KeyboardIrq:
    """The INT 09h service: one byte from the controller into the flags or the buffer."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        if int15_hooked(call.mem):
            return Outcome.DONE  # the ROM's code calls the hook, then KeyboardIrqKey
        status = call.ports.read(I8042_STATUS, 1)
        if status & (STATUS_OBF | STATUS_AUX) != STATUS_OBF:
            return Outcome.DONE  # "keyboard irq but no keyboard data"
        code = call.ports.read(I8042_DATA, 1)
        if process_key(call.mem, code):
            bda.write16(call.mem, bda.SOFT_RESET_FLAG, SOFT_RESET_WARM)
            return Reboot(0x09, BootAction.RESET)
        return Outcome.DONE


class KeyboardIrqKey:
    """INT 09h's second marker: the code in AL, which a guest's INT 15h hook let through."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        if process_key(call.mem, call.cpu.reg("al")):
            bda.write16(call.mem, bda.SOFT_RESET_FLAG, SOFT_RESET_WARM)
            return Reboot(0x09, BootAction.RESET)
        return Outcome.DONE


_SHIFT_KEYS = {0x2A: LSHIFT, 0x36: RSHIFT}
_LOCK_KEYS = {0x3A: (CAPS, CAPS_DOWN), 0x45: (NUM, NUM_DOWN), 0x46: (SCROLL, SCROLL_DOWN)}


def process_key(mem: PhysMemory, code: int) -> bool:
    """Apply one set-1 byte to the BDA (__process_key); True for Ctrl+Alt+Del."""
    flags0 = bda.read8(mem, bda.KBD_FLAG0)
    flags1 = bda.read8(mem, bda.KBD_FLAG1)
    flags2 = bda.read8(mem, bda.KBD_FLAG2)
    if flags2 & LAST_E1:
        # Pause is E1 1D 45 E1 9D C5: skip the 1D/9D, end the sequence at the third byte.
        if code & 0x7F != 0x1D:
            bda.write8(mem, bda.KBD_FLAG2, flags2 & ~LAST_E1)
        return False
    make, released = code & 0x7F, bool(code & 0x80)
    if code == 0x00:
        return False
    if code == 0xE0:
        bda.write8(mem, bda.KBD_FLAG2, flags2 | LAST_E0)
        return False
    if code == 0xE1:
        flags2 |= LAST_E1
    elif make in _SHIFT_KEYS:
        bit = _SHIFT_KEYS[make]
        flags0 = flags0 & ~bit if released else flags0 | bit
    elif make in (0x1D, 0x38):  # Ctrl, Alt: the left one in flag1, the right (E0) in flag2
        bit0, left, right = (CTRL, LCTRL, RCTRL) if make == 0x1D else (ALT, LALT, RALT)
        flags0 = flags0 & ~bit0 if released else flags0 | bit0
        if flags2 & LAST_E0:
            flags2 = flags2 & ~right if released else flags2 | right
        else:
            flags1 = flags1 & ~left if released else flags1 | left
    elif make in _LOCK_KEYS:
        active, down = _LOCK_KEYS[make]
        if released:
            flags1 &= ~down
        else:
            flags1 |= down
            flags0 ^= active
    elif not released:
        if make == 0x53 and flags0 & (CTRL | ALT) == CTRL | ALT:
            return True
        if make >= len(keymap.KEYS):
            return False  # unknown scan code: SeaBIOS returns before storing the flags
        enqueue_key(mem, keymap.key_word(make, flags0, bool(flags2 & LAST_E0)))
    flags2 &= ~LAST_E0
    bda.write8(mem, bda.KBD_FLAG0, flags0)
    bda.write8(mem, bda.KBD_FLAG1, flags1)
    bda.write8(mem, bda.KBD_FLAG2, flags2)
    return False
