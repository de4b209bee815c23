"""IoApic: the 82093AA-style I/O APIC of QEMU 7.2's pc machine (hw/intc/ioapic.c), 24 pins.

Registers through IOREGSEL (offset 0x00) and IOWIN (0x10), the page repeating every 256 bytes;
the EOI register at 0x40 (version 0x20's). ID (bits 24-27), version 0x00170020, arbitration
(reads as the ID), and a 64-bit redirection entry per pin: vector, delivery mode (fixed,
lowest priority, NMI, ExtINT: the 8259's vector), destination mode and destination (bits
56-63), polarity (kept, not acted on, as QEMU), trigger mode, remote IRR (read-only; cleared
by the EOI broadcast of its vector, or by making the entry edge-triggered) and the mask; the
delivery-status bit reads 0. Every entry starts masked.

Inputs, as QEMU wires them: ISA IRQ n on pin n, but IRQ 0 (the PIT) on pin 2. An edge-triggered
pin latches a request at each rising edge while unmasked (QEMU drops edges on a masked pin); a
level-triggered one requests while its line is high and no remote IRR is pending.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

PINS = 24
VERSION = 0x20
MASKED = 1 << 16
LEVEL = 1 << 15
REMOTE_IRR = 1 << 14
DELIVERY_STATUS = 1 << 12
_RO = REMOTE_IRR | DELIVERY_STATUS
_DM_EXTINT = 7


class ApicBus(Protocol):
    """Where the IOAPIC's messages go: the local APIC (bt/devices/lapic.py)."""

    def deliver_irq(self, dest: int, logical: bool, mode: int, vector: int, level: bool) -> None:
        """One interrupt message."""
        ...


class IoApic:
    """24 redirection entries between the ISA lines and the local APIC."""

    def __init__(self, bus: ApicBus, pic_vector: Callable[[], int]) -> None:
        self._bus = bus
        self._pic_vector = pic_vector  # the 8259's INTA, for an ExtINT entry
        self.id = 0
        self.regsel = 0
        self.irr = 0
        self.table = [MASKED] * PINS
        self._levels = [0] * PINS

    # -- inputs -----------------------------------------------------------------------------------
    def set_irq(self, irq: int, level: int) -> None:
        """ISA/GSI line `irq` driven to `level` (IRQ 0 arrives at pin 2)."""
        pin = 2 if irq == 0 else irq
        if pin >= PINS:
            return
        rising = level and not self._levels[pin]
        self._levels[pin] = 1 if level else 0
        entry, mask = self.table[pin], 1 << pin
        if entry & LEVEL:
            if level:
                self.irr |= mask
                if not entry & REMOTE_IRR:
                    self._service()
            else:
                self.irr &= ~mask
        elif rising and not entry & MASKED:
            self.irr |= mask
            self._service()

    def unmasked(self, irq: int) -> bool:
        """Whether ISA line `irq` reaches the CPU through its entry (unmasked)."""
        pin = 2 if irq == 0 else irq
        return pin < PINS and not self.table[pin] & MASKED

    def _service(self) -> None:
        """Send a message for every unmasked pin with a request (QEMU's ioapic_service)."""
        for pin in range(PINS):
            mask = 1 << pin
            if not self.irr & mask:
                continue
            entry = self.table[pin]
            if entry & MASKED:
                continue
            if entry & LEVEL:
                busy = entry & REMOTE_IRR
                self.table[pin] = entry | REMOTE_IRR
                if busy:
                    continue  # the guest still handles the previous one
            else:
                self.irr &= ~mask
            mode = (entry >> 8) & 7
            vector = self._pic_vector() if mode == _DM_EXTINT else entry & 0xFF
            logical = bool(entry & (1 << 11))
            self._bus.deliver_irq(entry >> 56, logical, mode, vector, bool(entry & LEVEL))

    def eoi_broadcast(self, vector: int) -> None:
        """The local APIC's EOI of a level-triggered `vector`: remote IRR clears, and a line
        still high requests again."""
        for pin in range(PINS):
            entry = self.table[pin]
            if (entry & 0xFF) != vector or not entry & LEVEL or not entry & REMOTE_IRR:
                continue
            self.table[pin] = entry & ~REMOTE_IRR
            if not entry & MASKED and self.irr & (1 << pin):
                self._service()

    # -- the registers (bt.bus.BusDevice) --------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        """IOREGSEL (any size), or IOWIN (32-bit) at the selected register."""
        offset &= 0xFF
        if offset == 0x00:
            return self.regsel
        if offset != 0x10 or size != 4:
            return 0
        sel = self.regsel
        if sel in (0, 2):
            return self.id << 24
        if sel == 1:
            return VERSION | (PINS - 1) << 16
        pin = (sel - 0x10) >> 1
        if 0 <= pin < PINS:
            entry = self.table[pin]
            return (entry >> 32 if sel & 1 else entry) & 0xFFFFFFFF
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        """IOREGSEL, IOWIN (32-bit) or the EOI register."""
        offset &= 0xFF
        if offset == 0x00:
            self.regsel = value & 0xFF
        elif offset == 0x10 and size == 4:
            self._write_reg(value & 0xFFFFFFFF)
        elif offset == 0x40 and size == 4:
            self.eoi_broadcast(value)

    def _write_reg(self, value: int) -> None:
        sel = self.regsel
        if sel == 0:
            self.id = (value >> 24) & 0xF
            return
        pin = (sel - 0x10) >> 1
        if sel < 0x10 or pin >= PINS:
            return
        old = self.table[pin]
        high = sel & 1
        entry = (old & 0xFFFFFFFF) | value << 32 if high else (old & ~0xFFFFFFFF) | value
        entry = (entry & ~_RO) | (old & _RO)
        if not entry & LEVEL:
            entry &= ~REMOTE_IRR  # what Linux does to clear remote IRR without an EOI register
        self.table[pin] = entry
        self._service()
