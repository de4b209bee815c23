"""Uart16550: a COM-port 16550A UART (registers, DLAB, FIFOs, loopback, interrupt status)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

# Register offsets (DLAB=0 unless noted).
RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR = range(8)

LSR_DR, LSR_THRE, LSR_TEMT = 0x01, 0x20, 0x40
IIR_NONE, IIR_THRE, IIR_RDA = 0x01, 0x02, 0x04
IER_RDA, IER_THRE = 0x01, 0x02
LCR_DLAB = 0x80
MCR_LOOP = 0x10


class Uart16550:
    """Output is immediate, so the transmitter always reads empty (LSR 0x60), as in QEMU."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self._sink = sink
        self._rx: deque[int] = deque()
        self.ier = 0
        self.lcr = 0
        self.mcr = 0
        self.scr = 0
        self.divisor = 0x000C  # 9600 baud after reset in QEMU's model
        self.fifo = False
        self._thre_pending = False  # THR-empty interrupt raised, not yet acknowledged

    # -- host side ----------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Queue bytes the guest will receive."""
        self._rx.extend(data)

    def irq_pending(self) -> bool:
        """Whether the UART asserts its interrupt line."""
        return self._iir() != IIR_NONE

    # -- registers ------------------------------------------------------------------------------
    def _lsr(self) -> int:
        return LSR_THRE | LSR_TEMT | (LSR_DR if self._rx else 0)

    def _msr(self) -> int:
        if self.mcr & MCR_LOOP:
            # Loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
            m = self.mcr
            return ((m & 1) << 5) | ((m & 2) << 3) | ((m & 4) << 4) | ((m & 8) << 4)
        return 0xB0  # DCD, DSR, CTS asserted, as QEMU's chardev reports

    def _iir(self) -> int:
        if self.ier & IER_RDA and self._rx:
            return IIR_RDA
        if self.ier & IER_THRE and self._thre_pending:
            return IIR_THRE
        return IIR_NONE

    def read(self, offset: int, size: int) -> int:
        """Read `size` bytes starting at register `offset` (wider accesses span registers)."""
        value = 0
        for i in range(size):
            value |= self._read8((offset + i) & 7) << (8 * i)
        return value

    def _read8(self, reg: int) -> int:
        if reg == RBR_THR:
            if self.lcr & LCR_DLAB:
                return self.divisor & 0xFF
            return self._rx.popleft() if self._rx else 0
        if reg == IER:
            return (self.divisor >> 8) & 0xFF if self.lcr & LCR_DLAB else self.ier
        if reg == IIR_FCR:
            iir = self._iir()
            if iir == IIR_THRE:
                self._thre_pending = False  # reading IIR acknowledges THRE
            return iir | (0xC0 if self.fifo else 0)
        if reg == LCR:
            return self.lcr
        if reg == MCR:
            return self.mcr
        if reg == LSR:
            return self._lsr()
        if reg == MSR:
            return self._msr()
        return self.scr

    def write(self, offset: int, size: int, value: int) -> None:
        """Write `size` bytes starting at register `offset`."""
        for i in range(size):
            self._write8((offset + i) & 7, (value >> (8 * i)) & 0xFF)

    def _write8(self, reg: int, value: int) -> None:
        if reg == RBR_THR:
            if self.lcr & LCR_DLAB:
                self.divisor = (self.divisor & 0xFF00) | value
                return
            if self.mcr & MCR_LOOP:
                self._rx.append(value)
            else:
                self._sink(bytes((value,)))
            self._thre_pending = True
        elif reg == IER:
            if self.lcr & LCR_DLAB:
                self.divisor = (self.divisor & 0x00FF) | (value << 8)
                return
            if value & IER_THRE and not self.ier & IER_THRE:
                self._thre_pending = True  # enabling THRE with an empty THR raises it at once
            self.ier = value & 0x0F
        elif reg == IIR_FCR:
            self.fifo = bool(value & 0x01)
            if value & 0x02:
                self._rx.clear()
        elif reg == LCR:
            self.lcr = value
        elif reg == MCR:
            self.mcr = value & 0x1F
        elif reg == SCR:
            self.scr = value
