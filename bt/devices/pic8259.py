"""PicPair: the two cascaded 8259A interrupt controllers of a PC (master, slave), with the ELCR.

The reference is QEMU 7.2's hw/intc/i8259.c. One chip (its ICWs, OCWs, registers, edge and
level requests) is bt/devices/i8259a.py; here are the pair, the cascade and the ELCR:

- Spurious interrupts: when INTA finds no request above the current priority (the line went
  away, a level line dropped, or the IMR changed between INTR and INTA), the chip answers
  base + 7 without touching ISR. On the slave that happens with the master's IRQ 2 still
  acknowledged, so the master's ISR bit 2 is set (the datasheet's IRQ 15 case).
- ELCR at 0x4D0 (master) and 0x4D1 (slave), masked to 0xF8 and 0xDE (IRQ 0, 1, 2, 8 and 13 are
  always edge), not reset by ICW1.

What a Multiboot kernel finds under QEMU 7.2 + SeaBIOS (measured with a probe kernel at -m 128):
master IMR 0xB8 (IRQ 0, 1, 2, 6 unmasked), slave IMR 0x8E (IRQ 8, 12, 13, 14 unmasked), port 0x20
reads IRR (read-register select cleared), ISR 0, ELCR 0x00 / 0x0C (IRQ 10 and 11 level: SeaBIOS
routes PCI interrupts there), vector bases 0x08 and 0x70 (SeaBIOS's; not readable, but an
unreprogrammed PIC delivers them). `PicPair(boot_state=True)` gives exactly that state; the
master IRR also showed 0x10 (COM1's IRQ 4 latched while masked), which is the UART's business.
"""

from __future__ import annotations

from bt.devices.i8259a import CASCADE_IRQ, NO_IRQ, SPURIOUS_IRQ, Pic8259
from bt.devices.irqline import IrqLine
from bt.devices.records import PicPairState
from bt.staterecord import check_record

ELCR_MASK_MASTER = 0xF8
ELCR_MASK_SLAVE = 0xDE

# What SeaBIOS leaves (measured under QEMU 7.2, see the module docstring).
BOOT_IMR_MASTER = 0xB8
BOOT_IMR_SLAVE = 0x8E
BOOT_BASE_MASTER = 0x08
BOOT_BASE_SLAVE = 0x70
BOOT_ELCR_SLAVE = 0x0C


class _Elcr:
    """Ports 0x4D0-0x4D1: the master's and the slave's ELCR."""

    def __init__(self, chips: tuple[Pic8259, Pic8259]) -> None:
        self._chips = chips

    def read(self, offset: int, size: int) -> int:
        value = 0
        for i in range(size):
            reg = offset + i
            byte = self._chips[reg].elcr if reg < 2 else 0xFF
            value |= byte << (8 * i)
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        for i in range(size):
            reg = offset + i
            if reg < 2:
                self._chips[reg].write_elcr((value >> (8 * i)) & 0xFF)


class PicPair:
    """Master (ports 0x20-0x21) and slave (0xA0-0xA1) on master IRQ 2, ELCR at 0x4D0-0x4D1.

    The machine registers `master`, `slave` and `elcr` on the port bus, wires device lines to
    `set_irq` (or `raise_irq`/`lower_irq`), and the CPU side polls `pending()` and calls
    `acknowledge()` when it takes the interrupt.
    """

    def __init__(self, boot_state: bool = True) -> None:
        self.master = Pic8259(master=True, elcr_mask=ELCR_MASK_MASTER)
        self.slave = Pic8259(master=False, elcr_mask=ELCR_MASK_SLAVE)
        self.slave.on_output = IrqLine(self.master, CASCADE_IRQ)
        self.elcr = _Elcr((self.master, self.slave))
        if boot_state:
            self._seabios_state()

    def _seabios_state(self) -> None:
        """What SeaBIOS leaves for a Multiboot kernel (measured under QEMU 7.2)."""
        for chip, base, imr in (
            (self.master, BOOT_BASE_MASTER, BOOT_IMR_MASTER),
            (self.slave, BOOT_BASE_SLAVE, BOOT_IMR_SLAVE),
        ):
            chip.write(0, 1, 0x11)  # ICW1: cascade, ICW4 follows
            chip.write(1, 1, base)
            chip.write(1, 1, 4 if chip.master else 2)
            chip.write(1, 1, 0x01)  # ICW4: 8086 mode
            chip.write(1, 1, imr)
        self.slave.write_elcr(BOOT_ELCR_SLAVE)

    def reset(self) -> None:
        """Power-on state of both chips."""
        self.slave.reset()
        self.master.reset()

    def set_irq(self, irq: int, level: int) -> None:
        """Drive ISA line `irq` (0-15) to `level`."""
        if irq < 8:
            self.master.set_irq(irq, level)
        else:
            self.slave.set_irq(irq - 8, level)

    def raise_irq(self, irq: int) -> None:
        """Line `irq` goes high (a rising edge latches an edge-triggered request)."""
        self.set_irq(irq, 1)

    def lower_irq(self, irq: int) -> None:
        """Line `irq` goes low."""
        self.set_irq(irq, 0)

    def pulse_irq(self, irq: int) -> None:
        """A rising then falling edge: one request from an edge-style source."""
        self.set_irq(irq, 1)
        self.set_irq(irq, 0)

    def pending(self) -> bool:
        """The master's INT output: an unmasked request above the current priority."""
        return self.master.requested_irq() != NO_IRQ

    def acknowledge(self) -> int:
        """The INTA cycle: the vector delivered, with ISR/IRR updated (QEMU's pic_read_irq)."""
        master = self.master
        irq = master.requested_irq()
        if irq == NO_IRQ:
            return master.irq_base + SPURIOUS_IRQ  # spurious IRQ 7: ISR untouched
        if irq == CASCADE_IRQ:
            irq2 = self.slave.requested_irq()
            if irq2 == NO_IRQ:
                vector = self.slave.irq_base + SPURIOUS_IRQ  # spurious IRQ 15
            else:
                self.slave.intack(irq2)
                vector = self.slave.irq_base + irq2
        else:
            vector = master.irq_base + irq
        master.intack(irq)
        return vector

    def save(self) -> PicPairState:
        """Both chips' state records."""
        return PicPairState(master=self.master.save(), slave=self.slave.save())

    def restore(self, state: PicPairState) -> None:
        """Take the state `save` returned (the cascade line is part of the master's IRR)."""
        state = check_record(state, PicPairState, "pic")
        self.master.check(state.master)
        self.slave.check(state.slave)
        self.master.restore(state.master)
        self.slave.restore(state.slave)
