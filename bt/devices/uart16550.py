"""Uart16550: a COM-port 16550A UART (registers, DLAB, FIFOs, loopback, interrupt status).

The reference is QEMU 7.2's hw/char/serial.c as a guest sees it after SeaBIOS (measured with a
probe guest under qemu-system-i386 -kernel):

- Output is immediate, so LSR always shows THR empty and transmitter empty (0x60); a THR write
  leaves a THR-empty interrupt pending at once, as in QEMU.
- Reset values: IER 0, IIR 0x01, LCR 0, MCR 0x08 (QEMU sets OUT2; the datasheet says 0x00),
  LSR 0x60, MSR 0xB0 (DCD, DSR, CTS: QEMU's stdio backend reports the lines up), SCR 0,
  divisor 0x000C (9600 baud).
- IIR priorities (datasheet table 4, as QEMU): line status (0x06) > character timeout (0x0C) >
  received data (0x04) > THR empty (0x02) > modem status (0x00, never raised: MSR is constant).
- Without FIFOs the receiver is one holding register: a byte arriving while data is ready
  overwrites it and sets overrun (LSR bit 1); reading RBR with nothing ready returns the stale
  byte. With FIFOs: 16 bytes, overrun keeps the old contents, an empty read returns 0.
- There is no clock, so the character-timeout interrupt is reported as soon as data sits in the
  FIFO below the trigger level (QEMU raises it 4 character times later).
- Accesses wider than a byte are split into byte accesses in ascending order, as QEMU's memory
  core does; bytes past register 7 read 0xFF and are not written (QEMU 7.2 aborts on those).
- The interrupt line is not gated by MCR OUT2: QEMU raises it regardless (a real PC gates it).

Plain state (`plain_lsr`): no DLAB, no loopback, the THR-empty interrupt disabled, nothing
received or waiting to be, no overrun. There an LSR read only returns THRE | TEMT and a THR
write only sends the byte (the THR-empty condition it leaves pending cannot be seen while the
interrupt is disabled, and enabling it raises the condition anyway), so the monitor's native
port hook may answer both itself (bt/portfast.py): it hands over the bytes it took with
`transmitted` and is told of every change of state through `on_change`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from bt.devices.records import UartState
from bt.staterecord import check_record, require, require_range

# Register offsets (DLAB=0 unless noted).
RBR_THR, IER, IIR_FCR, LCR, MCR, LSR, MSR, SCR = range(8)
REGISTERS = 8

LSR_DR, LSR_OE, LSR_THRE, LSR_TEMT = 0x01, 0x02, 0x20, 0x40
IIR_NONE, IIR_THRE, IIR_RDA, IIR_RLS, IIR_TIMEOUT = 0x01, 0x02, 0x04, 0x06, 0x0C
IIR_ID_MASK = 0x06  # the bits QEMU compares against THRE when IIR is read
IIR_FIFO = 0xC0
IER_RDA, IER_THRE, IER_RLS = 0x01, 0x02, 0x04
FCR_ENABLE, FCR_CLEAR_RX, FCR_CLEAR_TX = 0x01, 0x02, 0x04
FCR_STICKY = 0xC9  # trigger level, DMA mode and enable: what QEMU keeps of a FCR write
LCR_DLAB = 0x80
MCR_LOOP = 0x10
MCR_MASK = 0x1F
MCR_RESET = 0x08  # OUT2, as QEMU's serial_reset
MSR_LINES_UP = 0xB0  # DCD | DSR | CTS
DIVISOR_RESET = 0x000C
FIFO_SIZE = 16
TRIGGER_LEVELS = (1, 4, 8, 14)  # by FCR bits 7:6


class Uart16550:
    """COM1-style UART; transmitted bytes go to `sink`, received bytes come from `feed` or
    `source` (polled, non-blocking, whenever the receiver has room)."""

    def __init__(
        self,
        sink: Callable[[bytes], None],
        source: Callable[[], bytes] | None = None,
    ) -> None:
        self._sink = sink
        self._source = source
        self._host: deque[int] = deque()  # bytes the host sent that the UART has not taken
        self._fifo: deque[int] = deque()  # receive FIFO (FIFO mode)
        self._rbr = 0  # receive holding register (non-FIFO mode)
        self._rbr_full = False
        self._overrun = False
        self._thre_pending = False  # QEMU's thr_ipending: cleared by reading IIR
        self.ier = 0
        self.lcr = 0
        self.mcr = MCR_RESET
        self.scr = 0
        self.fcr = 0
        self.divisor = DIVISOR_RESET
        # Told after every register access and host input: the plain state may have changed.
        self.on_change: Callable[[], None] | None = None

    # -- host side ------------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Queue bytes for the guest; they enter the receiver as it has room (flow control)."""
        self._host.extend(data)
        if self.on_change is not None:
            self.on_change()

    def plain_lsr(self) -> int | None:
        """The LSR value when the UART is in its plain state (see the module's docstring),
        where reading LSR and writing THR have no other effect; None when it is not."""
        if self.lcr & LCR_DLAB or self.mcr & MCR_LOOP or self.ier & IER_THRE:
            return None
        if self._source is not None or self._host or self._data_ready() or self._overrun:
            return None
        return LSR_THRE | LSR_TEMT

    def transmitted(self, data: bytes) -> None:
        """Bytes written to THR in plain state that were not passed to `write` (the native
        port hook buffered them): sent as `write` would have sent them one by one."""
        if data:
            self._sink(data)
            self._thre_pending = True

    def irq_pending(self) -> bool:
        """Whether the UART asserts its interrupt line (any enabled condition holds)."""
        self._pull()
        return self._interrupt_id() != IIR_NONE

    @property
    def fifo_enabled(self) -> bool:
        """FCR bit 0: the 16-byte FIFOs are on."""
        return bool(self.fcr & FCR_ENABLE)

    # -- receiver -------------------------------------------------------------------------------
    def _data_ready(self) -> bool:
        return bool(self._fifo) if self.fifo_enabled else self._rbr_full

    def _room(self) -> int:
        """How many bytes the receiver takes now: QEMU's serial_can_receive."""
        if not self.fifo_enabled:
            return 0 if self._rbr_full else 1
        n = len(self._fifo)
        if n >= FIFO_SIZE:
            return 0
        level = self._trigger_level()
        # QEMU advertises up to the trigger level, then one byte at a time.
        return level - n if n <= level else 1

    def _trigger_level(self) -> int:
        return TRIGGER_LEVELS[self.fcr >> 6]

    def _pull(self) -> None:
        """Move host input into the receiver; loopback disconnects the serial input."""
        if self.mcr & MCR_LOOP:
            return
        while (room := self._room()) > 0:
            if not self._host and self._source is not None:
                self._host.extend(self._source())
            if not self._host:
                return
            for _ in range(min(room, len(self._host))):
                self._receive(self._host.popleft())

    def _receive(self, byte: int) -> None:
        """A byte arrives at the receiver (serial_receive1)."""
        if self.fifo_enabled:
            if len(self._fifo) < FIFO_SIZE:
                self._fifo.append(byte)
            else:
                self._overrun = True  # a full FIFO keeps its contents
        else:
            if self._rbr_full:
                self._overrun = True  # the new byte overwrites the unread one
            self._rbr = byte
            self._rbr_full = True

    # -- status ---------------------------------------------------------------------------------
    def _lsr(self) -> int:
        lsr = LSR_THRE | LSR_TEMT
        if self._data_ready():
            lsr |= LSR_DR
        if self._overrun:
            lsr |= LSR_OE
        return lsr

    def _msr(self) -> int:
        if self.mcr & MCR_LOOP:
            # Loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
            m = self.mcr
            return ((m & 0x0C) << 4) | ((m & 0x02) << 3) | ((m & 0x01) << 5)
        return MSR_LINES_UP

    def _interrupt_id(self) -> int:
        """The highest-priority enabled pending condition (QEMU's serial_update_irq)."""
        if self.ier & IER_RLS and self._overrun:
            return IIR_RLS
        if self.ier & IER_RDA and self.fifo_enabled:
            n = len(self._fifo)
            if n >= self._trigger_level():
                return IIR_RDA
            if n:
                return IIR_TIMEOUT
        elif self.ier & IER_RDA and self._rbr_full:
            return IIR_RDA
        if self.ier & IER_THRE and self._thre_pending:
            return IIR_THRE
        return IIR_NONE

    # -- registers ------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        """Read `size` bytes from register `offset` on, one register per byte."""
        value = 0
        for i in range(size):
            reg = offset + i
            byte = self._read8(reg) if reg < REGISTERS else 0xFF
            value |= byte << (8 * i)
        if self.on_change is not None:
            self.on_change()
        return value

    def _read8(self, reg: int) -> int:
        self._pull()
        dlab = bool(self.lcr & LCR_DLAB)
        if reg == RBR_THR:
            if dlab:
                return self.divisor & 0xFF
            return self._read_rbr()
        if reg == IER:
            return (self.divisor >> 8) & 0xFF if dlab else self.ier
        if reg == IIR_FCR:
            iid = self._interrupt_id()
            if iid & IIR_ID_MASK == IIR_THRE:
                self._thre_pending = False  # reading IIR acknowledges THR empty
            return iid | (IIR_FIFO if self.fifo_enabled else 0)
        if reg == LCR:
            return self.lcr
        if reg == MCR:
            return self.mcr
        if reg == LSR:
            lsr = self._lsr()
            self._overrun = False  # reading LSR clears the error bits
            return lsr
        if reg == MSR:
            return self._msr()
        return self.scr

    def _read_rbr(self) -> int:
        if self.fifo_enabled:
            byte = self._fifo.popleft() if self._fifo else 0
        else:
            byte = self._rbr  # stale when nothing is ready, as on the chip
            self._rbr_full = False
        self._pull()
        return byte

    def write(self, offset: int, size: int, value: int) -> None:
        """Write `size` bytes from register `offset` on, one register per byte."""
        for i in range(size):
            reg = offset + i
            if reg < REGISTERS:
                self._write8(reg, (value >> (8 * i)) & 0xFF)
        if self.on_change is not None:
            self.on_change()

    def _write8(self, reg: int, value: int) -> None:
        dlab = bool(self.lcr & LCR_DLAB)
        if reg == RBR_THR:
            if dlab:
                self.divisor = (self.divisor & 0xFF00) | value
            else:
                self._transmit(value)
        elif reg == IER:
            if dlab:
                self.divisor = (self.divisor & 0x00FF) | (value << 8)
                return
            changed = (self.ier ^ value) & 0x0F
            self.ier = value & 0x0F
            if changed & IER_THRE:
                # QEMU re-raises THR empty on a rising edge of the enable, even if an IIR read
                # had acknowledged it (Windows relies on this); a falling edge drops it.
                self._thre_pending = bool(self.ier & IER_THRE)
        elif reg == IIR_FCR:
            self._write_fcr(value)
        elif reg == LCR:
            self.lcr = value
        elif reg == MCR:
            self.mcr = value & MCR_MASK
        elif reg == SCR:
            self.scr = value
        # LSR and MSR are read-only.

    def _transmit(self, byte: int) -> None:
        if self.mcr & MCR_LOOP:
            self._receive(byte)
        else:
            self._sink(bytes((byte,)))
        self._thre_pending = True  # sent at once: the holding register is empty again

    def _write_fcr(self, value: int) -> None:
        if (value ^ self.fcr) & FCR_ENABLE:
            value |= FCR_CLEAR_RX | FCR_CLEAR_TX  # switching FIFOs on or off flushes both
        if value & FCR_CLEAR_RX:
            self._fifo.clear()
            self._rbr_full = False
        if value & FCR_CLEAR_TX:
            self._thre_pending = True  # QEMU: the emptied transmitter raises THR empty
        self.fcr = value & FCR_STICKY

    # -- state ----------------------------------------------------------------------------------
    def save(self) -> UartState:
        """Registers, receiver contents and host input not yet taken in (the wiring is not)."""
        return UartState(
            host_input=bytes(self._host),
            fifo=bytes(self._fifo),
            rbr=self._rbr,
            rbr_full=self._rbr_full,
            overrun=self._overrun,
            thre_pending=self._thre_pending,
            ier=self.ier,
            lcr=self.lcr,
            mcr=self.mcr,
            scr=self.scr,
            fcr=self.fcr,
            divisor=self.divisor,
        )

    def restore(self, state: UartState) -> None:
        """Take the state `save` returned."""
        state = check_record(state, UartState, "com1")
        require(len(state.fifo) <= FIFO_SIZE, "com1", f"{len(state.fifo)} bytes in the FIFO")
        require_range("com1", state, "rbr ier lcr mcr scr fcr", 0, 0xFF)
        require_range("com1", state, "divisor", 0, 0xFFFF)
        self._host, self._fifo = deque(state.host_input), deque(state.fifo)
        self._rbr, self._rbr_full = state.rbr, state.rbr_full
        self._overrun, self._thre_pending = state.overrun, state.thre_pending
        self.ier, self.lcr, self.mcr, self.scr = state.ier, state.lcr, state.mcr, state.scr
        self.fcr, self.divisor = state.fcr, state.divisor
