"""I8042: the PS/2 keyboard controller at ports 0x60 (data) and 0x64 (status/command).

The reference is QEMU 7.2's hw/input/pckbd.c and the keyboard half of hw/input/ps2.c, measured
with a probe kernel under qemu-system-i386 -kernel. Register it twice on the port bus, `data` at
0x60 and `command` at 0x64 (two one-port devices), and wire the callbacks.

- Status (0x64 read): OBF bit 0, IBF bit 1 (always 0: commands complete at once), system flag
  bit 2 (set by self-test; SeaBIOS ran it), command/data bit 3 (QEMU sets it at reset and never
  changes it: measured 0x1D after data writes), unlocked bit 4, aux OBF bit 5. At Multiboot entry
  it reads 0x1C.
- Command byte (0x20 read, 0x60 write): bit 0 IRQ 1 enable, bit 1 IRQ 12 enable, bit 2 system
  flag, bit 4 keyboard disabled, bit 5 aux disabled, bit 6 set-2-to-set-1 translation. SeaBIOS
  leaves 0x61. Controller commands: 0xA7/0xA8 aux off/on, 0xA9 aux test -> 0x00, 0xAA self-test
  -> 0x55 (command byte unchanged, measured), 0xAB keyboard test -> 0x00, 0xAD/0xAE keyboard
  off/on, 0xC0 input port -> 0x80, 0xD0 output port (0xCF at entry, with bits 4/5 showing the
  output buffer), 0xD1 write output port (bit 0 low: reset; bit 1: A20), 0xD2/0xD3 write the
  output buffer as keyboard/aux (not translated), 0xD4 write to the aux device, 0xDD/0xDF A20
  off/on, 0xF0-0xFF pulse output bits (bit 0 pulsed, as 0xFE: reset). Others (0xA1, 0xE0...)
  answer nothing (measured).
- The output buffer holds one byte. Controller bytes come first (command replies, 0xD2/0xD3
  data, and the aux stub's answers, which are delivered even with the aux port disabled), then
  keyboard bytes: command replies before typed scan codes, all held while the keyboard interface
  is disabled, scan codes also while scanning is off. Reading 0x60 takes the byte and loads the
  next at once; reading it empty returns the last byte again (measured).
- IRQ 1 is `irq_kbd(level)`: high while a keyboard byte is in the buffer and command-byte bit 0
  is set; a read lowers it before the next byte raises it again, so the edge-triggered PIC sees
  one edge per byte. IRQ 12 (`irq_aux`) likewise for aux bytes with bit 1.
- The keyboard (its commands, scan codes, set-1 text) is bt/devices/ps2keyboard.py, the aux stub
  bt/devices/ps2aux.py.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from bt.devices.ps2aux import AuxStub
from bt.devices.ps2keyboard import Ps2Keyboard, text_to_set1
from bt.devices.records import I8042State
from bt.staterecord import check_record, require, require_range

STAT_OBF, STAT_IBF, STAT_SYS, STAT_CMD, STAT_UNLOCKED, STAT_AUX_OBF = 1, 2, 4, 8, 0x10, 0x20
MODE_KBD_INT, MODE_AUX_INT, MODE_SYS = 0x01, 0x02, 0x04
MODE_DISABLE_KBD, MODE_DISABLE_AUX, MODE_TRANSLATE = 0x10, 0x20, 0x40
OUT_RESET, OUT_A20, OUT_OBF, OUT_AUX_OBF = 0x01, 0x02, 0x10, 0x20
OUT_ONES = 0xCC  # QEMU's outport default includes these bits

# What SeaBIOS leaves (measured at Multiboot entry under QEMU 7.2).
BOOT_MODE = 0x61
BOOT_STATUS = STAT_SYS | STAT_CMD | STAT_UNLOCKED
BOOT_OUTPORT = OUT_RESET | OUT_A20 | OUT_ONES


class I8042:
    """The keyboard controller; `data` and `command` are its two ports for the bus."""

    def __init__(
        self,
        irq_kbd: Callable[[int], None] | None = None,
        irq_aux: Callable[[int], None] | None = None,
        on_a20: Callable[[int], None] | None = None,
        on_reset: Callable[[], None] | None = None,
        boot_state: bool = True,
    ) -> None:
        self._irq_kbd = irq_kbd
        self._irq_aux = irq_aux
        self._on_a20 = on_a20
        self._on_reset = on_reset
        self.mode = BOOT_MODE if boot_state else MODE_KBD_INT | MODE_AUX_INT
        self.status = BOOT_STATUS if boot_state else STAT_CMD | STAT_UNLOCKED
        self.outport = BOOT_OUTPORT
        self._write_cmd = 0  # controller command waiting for its data byte at 0x60
        self._ctrl: deque[tuple[int, bool]] = deque()  # controller-made bytes (byte, is_aux)
        self.keyboard = Ps2Keyboard()
        self._aux = AuxStub()
        self._ob = 0
        self._ob_full = False
        self._ob_aux = False
        self._kbd_level = 0
        self._aux_level = 0
        self.data = _Port(self._read_data, self._write_data)
        self.command = _Port(self._read_status, self._write_command)

    # -- host side ------------------------------------------------------------------------------
    def feed_scancodes(self, data: bytes) -> None:
        """Queue bytes from the keyboard, exactly as the guest will read them at port 0x60."""
        self.keyboard.scancodes.extend(data)
        self._fill()

    def output_empty(self) -> bool:
        """Whether nothing waits for the guest at port 0x60 (the output buffer and queues)."""
        return not self._ob_full and not self._ctrl and not self.keyboard.has_data()

    def type_text(self, text: str) -> None:
        """Queue the set-1 make/break codes that type `text`."""
        self.feed_scancodes(text_to_set1(text))

    @property
    def translate(self) -> bool:
        """Command-byte bit 6: the controller presents set-2 codes as set 1."""
        return bool(self.mode & MODE_TRANSLATE)

    # -- output buffer --------------------------------------------------------------------------
    def _fill(self) -> None:
        """Load the next byte into an empty output buffer and drive the IRQ lines."""
        if not self._ob_full:
            if self._ctrl:
                self._ob, self._ob_aux = self._ctrl.popleft()
                self._ob_full = True
            elif not self.mode & MODE_DISABLE_KBD and self.keyboard.has_data():
                self._ob, self._ob_aux, self._ob_full = self.keyboard.pop(), False, True
        self._update_irq()

    def _update_irq(self) -> None:
        kbd = int(self._ob_full and not self._ob_aux and bool(self.mode & MODE_KBD_INT))
        aux = int(self._ob_full and self._ob_aux and bool(self.mode & MODE_AUX_INT))
        # The lines are driven at every update, not only on change, as QEMU's kbd_update_irq
        # does: after an ICW1 the PIC has forgotten a line that stayed high, and a guest that
        # then enables the keyboard interrupt (command byte) must see the edge.
        self._kbd_level, self._aux_level = kbd, aux
        if self._irq_kbd is not None:
            self._irq_kbd(kbd)
        if self._irq_aux is not None:
            self._irq_aux(aux)

    def _reply(self, value: int, aux: bool = False) -> None:
        self._ctrl.append((value, aux))
        self._fill()

    # -- ports ----------------------------------------------------------------------------------
    def _read_status(self) -> int:
        status = self.status & ~(STAT_OBF | STAT_AUX_OBF)
        if self._ob_full:
            status |= STAT_OBF | (STAT_AUX_OBF if self._ob_aux else 0)
        return status

    def _read_data(self) -> int:
        value = self._ob  # the last byte again when empty, as QEMU
        if self._ob_full:
            self._ob_full = False
            self._update_irq()  # drop the line so the next byte makes a fresh edge
            self._fill()
        return value

    def _write_command(self, value: int) -> None:
        if value & 0xF0 == 0xF0:
            value = 0xFE if not value & 1 else 0xFF  # pulse output bits: only bit 0 matters
        if value == 0x20:
            self._reply(self.mode)
        elif value in (0x60, 0xD1, 0xD2, 0xD3, 0xD4):
            self._write_cmd = value
        elif value == 0xA7:
            self.mode |= MODE_DISABLE_AUX
        elif value == 0xA8:
            self.mode &= ~MODE_DISABLE_AUX
            self._fill()
        elif value in (0xA9, 0xAB):
            self._reply(0x00)
        elif value == 0xAA:
            self.status |= STAT_SYS
            self._reply(0x55)
        elif value == 0xAD:
            self.mode |= MODE_DISABLE_KBD
            self._update_irq()
        elif value == 0xAE:
            self.mode &= ~MODE_DISABLE_KBD
            self._fill()
        elif value == 0xC0:
            self._reply(0x80)
        elif value == 0xD0:
            out = self.outport & ~(OUT_OBF | OUT_AUX_OBF)
            if self._ob_full:
                out |= OUT_AUX_OBF if self._ob_aux else OUT_OBF
            self._reply(out)
        elif value == 0xDD:
            self._set_a20(False)
        elif value == 0xDF:
            self._set_a20(True)
        elif value == 0xFE and self._on_reset is not None:
            self._on_reset()
        # 0xFF and unknown commands: nothing

    def _set_a20(self, on: bool) -> None:
        self.outport = (self.outport | OUT_A20) if on else (self.outport & ~OUT_A20)
        if self._on_a20 is not None:
            self._on_a20(int(on))

    def _write_data(self, value: int) -> None:
        cmd, self._write_cmd = self._write_cmd, 0
        if cmd == 0:
            self.keyboard.command(value, self.translate)
            self.mode &= ~MODE_DISABLE_KBD  # talking to the keyboard re-enables its interface
            self._fill()
        elif cmd == 0x60:
            self.mode = value
            self._fill()
        elif cmd == 0xD1:
            self.outport = value
            if self._on_a20 is not None:
                self._on_a20((value >> 1) & 1)
            if not value & OUT_RESET and self._on_reset is not None:
                self._on_reset()
        elif cmd == 0xD2:
            self._reply(value)
        elif cmd == 0xD3:
            self._reply(value, aux=True)
        else:  # 0xD4
            self._aux.command(value)  # aux replies arrive even with the aux port disabled
            self._ctrl.extend((b, True) for b in self._aux.replies)
            self._aux.replies.clear()
            self._fill()

    # -- state ----------------------------------------------------------------------------------
    def save(self) -> I8042State:
        """The controller's, the keyboard's and the aux stub's state (queued bytes included)."""
        return I8042State(
            mode=self.mode,
            status=self.status,
            outport=self.outport,
            write_cmd=self._write_cmd,
            ctrl=tuple(self._ctrl),
            ob=self._ob,
            ob_full=self._ob_full,
            ob_aux=self._ob_aux,
            kbd_level=self._kbd_level,
            aux_level=self._aux_level,
            keyboard=self.keyboard.save(),
            aux=self._aux.save(),
        )

    def restore(self, state: I8042State) -> None:
        """Take the state `save` returned; IRQ 1 and 12 are restored, not re-driven."""
        state = check_record(state, I8042State, "i8042")
        require_range("i8042", state, "mode status outport write_cmd ob", 0, 0xFF)
        require_range("i8042", state, "kbd_level aux_level", 0, 1)
        for i, (byte, _aux) in enumerate(state.ctrl):
            require(0 <= byte <= 0xFF, "i8042", f"queued byte {i} = {byte:#x}")
        require_range("i8042 keyboard", state.keyboard, "write_cmd", -1, 0xFF)
        require_range("i8042 keyboard", state.keyboard, "scancode_set", 1, 3)
        require_range("i8042 keyboard", state.keyboard, "leds", 0, 0xFF)
        require_range("i8042 aux", state.aux, "write_cmd", -1, 0xFF)
        require_range("i8042 aux", state.aux, "resolution sample_rate", 0, 0xFF)
        self.mode, self.status, self.outport = state.mode, state.status, state.outport
        self._write_cmd, self._ctrl = state.write_cmd, deque(state.ctrl)
        self._ob, self._ob_full, self._ob_aux = state.ob, state.ob_full, state.ob_aux
        self._kbd_level, self._aux_level = state.kbd_level, state.aux_level
        self.keyboard.restore(state.keyboard)
        self._aux.restore(state.aux)


class _Port:
    """One of the controller's ports as a one-byte bus device."""

    def __init__(self, read8: Callable[[], int], write8: Callable[[int], None]) -> None:
        self._read8 = read8
        self._write8 = write8

    def read(self, offset: int, size: int) -> int:
        """The port byte at offset 0; wider accesses read 0xFF above it."""
        value = 0
        for i in range(size):
            byte = self._read8() if offset + i == 0 else 0xFF
            value |= byte << (8 * i)
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        """The low byte goes to the port when the access starts at offset 0."""
        if offset == 0:
            self._write8(value & 0xFF)
