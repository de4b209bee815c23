"""Pic8259: one 8259A interrupt controller, its ICWs, OCWs, IRR/ISR/IMR and priorities.

The reference is QEMU 7.2's hw/intc/i8259.c (and the 8259A datasheet where QEMU follows it).
Behaviour a guest can observe:

- ICW1 (port 0, bit 4) resets the chip as QEMU does: IMR, ISR, priority rotation, read-register
  select, poll, special mask, auto-EOI and special fully nested mode cleared; IRR keeps only the
  level-triggered (ELCR) bits; the edge detectors forget the line levels. Then ICW2 (vector base,
  low 3 bits dropped), ICW3 (skipped when ICW1 says single), ICW4 (when ICW1 bit 0: auto-EOI
  bit 1, special fully nested bit 4; the buffered/8086 bits are ignored). ICW1 bit 3 (LTIM) is
  ignored, as in QEMU 7.2: trigger mode comes from the ELCR only.
- OCW1 is the IMR. OCW2: non-specific EOI (001), specific EOI (011), rotate on non-specific EOI
  (101), rotate on auto-EOI set/clear (100/000), set priority (110), rotate on specific EOI (111);
  010 is a no-op. OCW3: read IRR/ISR select (bits 1-0), poll (bit 2), special mask (bits 6-5).
- A read of port 0 returns IRR or ISR as selected (IRR after ICW1), port 1 the IMR. After a poll
  command the next read of either port is the poll byte: 0x80 | level with the request
  acknowledged as by INTA, or 0x00 when nothing is pending (measured 0x00 under QEMU).
- Edge-triggered lines latch IRR on a rising edge. QEMU does not clear a latched edge when the
  line falls again; the datasheet says a request must stay high until INTA. We follow QEMU, so an
  edge request never turns spurious by itself. Level-triggered lines (ELCR) follow the line and
  stay in IRR through INTA.
- Accesses wider than a byte are split into byte accesses in ascending order (QEMU's memory core
  does this for the 1-byte-only PIC); bytes past the chip's two ports read 0xFF.
"""

from __future__ import annotations

from collections.abc import Callable

from bt.devices.records import PicState
from bt.staterecord import check_record, require_range

CASCADE_IRQ = 2
SPURIOUS_IRQ = 7
NO_IRQ = -1


class Pic8259:
    """One 8259A; `on_output` follows its INT pin (the slave's drives the master's IRQ 2)."""

    def __init__(self, master: bool, elcr_mask: int) -> None:
        self.master = master
        self.elcr_mask = elcr_mask
        self.elcr = 0
        self.on_output: Callable[[int], None] | None = None
        self._output = 0
        self.irr = 0
        self.last_irr = 0  # line levels seen, for edge detection
        self.imr = 0
        self.isr = 0
        self.priority_add = 0  # the level with the lowest priority is priority_add - 1
        self.irq_base = 0
        self.read_isr = False
        self.poll = False
        self.special_mask = False
        self.init_state = 0  # 0: normal, 1-3: waiting for ICW2, ICW3, ICW4
        self.auto_eoi = False
        self.rotate_on_auto_eoi = False
        self.special_fully_nested = False
        self.init4 = False
        self.single = False

    # -- priority resolution --------------------------------------------------------------------
    def _priority(self, mask: int) -> int:
        """Rank (0 = highest) of the highest-priority bit of `mask`; 8 if `mask` is empty."""
        if not mask:
            return 8
        rank = 0
        while not mask & (1 << ((rank + self.priority_add) & 7)):
            rank += 1
        return rank

    def requested_irq(self) -> int:
        """The level the chip would present at INTA, or NO_IRQ (QEMU's pic_get_irq)."""
        rank = self._priority(self.irr & ~self.imr)
        if rank == 8:
            return NO_IRQ
        in_service = self.isr
        if self.special_mask:
            in_service &= ~self.imr  # masked levels do not block lower ones
        if self.special_fully_nested and self.master:
            in_service &= ~(1 << CASCADE_IRQ)  # the slave may interrupt its own service
        if rank < self._priority(in_service):
            return (rank + self.priority_add) & 7
        return NO_IRQ

    def _update(self) -> None:
        level = 1 if self.requested_irq() != NO_IRQ else 0
        if level != self._output:
            self._output = level
            if self.on_output is not None:
                self.on_output(level)

    @property
    def output(self) -> int:
        """The INT pin (1: a request is pending above the current priority)."""
        return self._output

    # -- inputs ---------------------------------------------------------------------------------
    def set_irq(self, irq: int, level: int) -> None:
        """Drive input line `irq` (0-7) to `level`."""
        mask = 1 << irq
        if self.elcr & mask:
            if level:
                self.irr |= mask
                self.last_irr |= mask
            else:
                self.irr &= ~mask
                self.last_irr &= ~mask
        elif level:
            if not self.last_irr & mask:
                self.irr |= mask  # rising edge
            self.last_irr |= mask
        else:
            self.last_irr &= ~mask  # QEMU keeps the latched request (see module docstring)
        self._update()

    def intack(self, irq: int) -> None:
        """The INTA cycle for `irq`: into ISR (unless auto-EOI), edge request consumed."""
        if self.auto_eoi:
            if self.rotate_on_auto_eoi:
                self.priority_add = (irq + 1) & 7
        else:
            self.isr |= 1 << irq
        if not self.elcr & (1 << irq):
            self.irr &= ~(1 << irq)
        self._update()

    # -- registers ------------------------------------------------------------------------------
    def reset(self) -> None:
        """Power-on state (ELCR cleared too)."""
        self.elcr = 0
        self._init_reset()

    def _init_reset(self) -> None:
        self.last_irr = 0
        self.irr &= self.elcr
        self.imr = 0
        self.isr = 0
        self.priority_add = 0
        self.irq_base = 0
        self.read_isr = False
        self.poll = False
        self.special_mask = False
        self.init_state = 0
        self.auto_eoi = False
        self.rotate_on_auto_eoi = False
        self.special_fully_nested = False
        self.init4 = False
        self.single = False
        self._update()

    def read(self, offset: int, size: int) -> int:
        """Read `size` bytes from port `offset` on, one port per byte."""
        value = 0
        for i in range(size):
            reg = offset + i
            byte = self._read8(reg) if reg < 2 else 0xFF
            value |= byte << (8 * i)
        return value

    def _read8(self, reg: int) -> int:
        if self.poll:
            self.poll = False
            irq = self.requested_irq()
            if irq == NO_IRQ:
                return 0x00
            self.intack(irq)
            return 0x80 | irq
        if reg == 0:
            return self.isr if self.read_isr else self.irr
        return self.imr

    def write(self, offset: int, size: int, value: int) -> None:
        """Write `size` bytes of `value` from port `offset` on, one port per byte."""
        for i in range(size):
            reg = offset + i
            if reg < 2:
                self._write8(reg, (value >> (8 * i)) & 0xFF)

    def _write8(self, reg: int, value: int) -> None:
        if reg == 0:
            if value & 0x10:
                self._icw1(value)
            elif value & 0x08:
                self._ocw3(value)
            else:
                self._ocw2(value)
            return
        if self.init_state == 0:
            self.imr = value
            self._update()
        elif self.init_state == 1:
            self.irq_base = value & 0xF8
            self.init_state = (3 if self.init4 else 0) if self.single else 2
        elif self.init_state == 2:
            self.init_state = 3 if self.init4 else 0  # ICW3: the cascade wiring is fixed
        else:
            self.special_fully_nested = bool(value & 0x10)
            self.auto_eoi = bool(value & 0x02)
            self.init_state = 0

    def _icw1(self, value: int) -> None:
        self._init_reset()
        self.init_state = 1
        self.init4 = bool(value & 0x01)
        self.single = bool(value & 0x02)

    def _ocw3(self, value: int) -> None:
        if value & 0x04:
            self.poll = True
        if value & 0x02:
            self.read_isr = bool(value & 0x01)
        if value & 0x40:
            self.special_mask = bool(value & 0x20)

    def _ocw2(self, value: int) -> None:
        cmd = value >> 5
        if cmd in (0, 4):
            self.rotate_on_auto_eoi = cmd == 4
        elif cmd in (1, 5):
            rank = self._priority(self.isr)
            if rank != 8:
                irq = (rank + self.priority_add) & 7
                self.isr &= ~(1 << irq)
                if cmd == 5:
                    self.priority_add = (irq + 1) & 7
                self._update()
        elif cmd == 3:
            self.isr &= ~(1 << (value & 7))
            self._update()
        elif cmd == 6:
            self.priority_add = (value + 1) & 7
            self._update()
        elif cmd == 7:
            irq = value & 7
            self.isr &= ~(1 << irq)
            self.priority_add = (irq + 1) & 7
            self._update()
        # cmd 2 is a no-op

    def write_elcr(self, value: int) -> None:
        """The chip's ELCR byte; bits outside the mask stay edge-triggered."""
        self.elcr = value & self.elcr_mask

    # -- state ----------------------------------------------------------------------------------
    def save(self) -> PicState:
        """The chip's state record."""
        return PicState(
            elcr=self.elcr,
            output=self._output,
            irr=self.irr,
            last_irr=self.last_irr,
            imr=self.imr,
            isr=self.isr,
            priority_add=self.priority_add,
            irq_base=self.irq_base,
            read_isr=self.read_isr,
            poll=self.poll,
            special_mask=self.special_mask,
            init_state=self.init_state,
            auto_eoi=self.auto_eoi,
            rotate_on_auto_eoi=self.rotate_on_auto_eoi,
            special_fully_nested=self.special_fully_nested,
            init4=self.init4,
            single=self.single,
        )

    def check(self, state: PicState) -> PicState:
        """`state` if this chip can restore it, else StateError (nothing is changed)."""
        owner = "pic-master" if self.master else "pic-slave"
        state = check_record(state, PicState, owner)
        require_range(owner, state, "elcr irr last_irr imr isr irq_base", 0, 0xFF)
        require_range(owner, state, "priority_add", 0, 7)
        require_range(owner, state, "init_state", 0, 3)
        require_range(owner, state, "output", 0, 1)
        return state

    def restore(self, state: PicState) -> None:
        """Take the state `save` returned; the INT pin is restored, not re-driven."""
        state = self.check(state)
        self.elcr = state.elcr & self.elcr_mask
        self._output = state.output
        self.irr, self.last_irr = state.irr, state.last_irr
        self.imr, self.isr = state.imr, state.isr
        self.priority_add, self.irq_base = state.priority_add, state.irq_base
        self.read_isr, self.poll, self.special_mask = state.read_isr, state.poll, state.special_mask
        self.init_state = state.init_state
        self.auto_eoi, self.rotate_on_auto_eoi = state.auto_eoi, state.rotate_on_auto_eoi
        self.special_fully_nested = state.special_fully_nested
        self.init4, self.single = state.init4, state.single
