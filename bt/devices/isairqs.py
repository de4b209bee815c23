"""IsaIrqs: the ISA interrupt lines, each wired to both the 8259 pair and the IOAPIC, as on a PC."""

from __future__ import annotations

from bt.devices.irqline import IrqInputs


class IsaIrqs:
    """Lines 0-15: every level goes to the 8259 pair, and to the IOAPIC when there is one
    (`--machine pc`), which sees IRQ 0 on its pin 2 (bt/devices/ioapic.py)."""

    def __init__(self, pics: IrqInputs, ioapic: IrqInputs | None = None) -> None:
        self.pics = pics
        self.ioapic = ioapic

    def set_irq(self, irq: int, level: int) -> None:
        """Drive ISA line `irq` to `level`."""
        self.pics.set_irq(irq, level)
        if self.ioapic is not None:
            self.ioapic.set_irq(irq, level)
