"""IrqLine: a device's interrupt output wired to one input of an interrupt controller, as data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class IrqInputs(Protocol):
    """The input side of an interrupt controller: a PicPair (ISA lines 0-15) or one 8259A."""

    def set_irq(self, irq: int, level: int) -> None:
        """Drive input line `irq` to `level`."""
        ...


@dataclass(frozen=True, slots=True)
class IrqLine:
    """Input `irq` of `controller`. Devices take their output as a callable of the level, so a
    line is one (`IrqLine(pics, 0)(1)` is `set(1)`); the wiring stays a plain, comparable value
    that a machine description or a snapshot can name, not a closure."""

    controller: IrqInputs
    irq: int

    def set(self, level: int) -> None:
        """Drive the line to `level` (0 or 1)."""
        self.controller.set_irq(self.irq, level)

    def __call__(self, level: int) -> None:
        self.controller.set_irq(self.irq, level)
