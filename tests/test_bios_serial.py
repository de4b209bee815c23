"""INT 14h through the real 16550 UART (SeaBIOS 1.16 src/serial.c; status values measured under
QEMU 7.2: AH=03h on COM1 gives AX 60B0h, on a missing COM2 only CF)."""

from __future__ import annotations

from bt.bios import waits
from bt.bios.api import Outcome, Unsupported
from bt.bios.serial import Serial
from tests.biosmachine import Machine

S = Serial()


def test_status_init_and_send() -> None:
    m = Machine()
    m.call(S, 0x14, ax=0x0300, dx=0)
    assert m.cpu.reg("ax") == 0x60B0 and not m.cpu.flag("cf")
    m.call(S, 0x14, ax=0x00E3, dx=0)  # 9600 baud, 8N1
    assert m.cpu.reg("ax") == 0x60B0
    assert (m.uart.divisor, m.uart.lcr) == (0x000C, 0x03)
    m.call(S, 0x14, ax=0x0141, dx=0)
    assert bytes(m.serial_out) == b"A" and m.cpu.reg("ax") == 0x6041


def test_missing_port_sets_only_cf() -> None:
    m = Machine()
    m.call(S, 0x14, ax=0x0341, dx=1)
    assert m.cpu.flag("cf") and m.cpu.reg("ax") == 0x0341
    assert isinstance(m.call(S, 0x14, ax=0x0400, dx=0), Unsupported)


def test_receive_and_timeout() -> None:
    m = Machine()
    m.uart.feed(b"z")
    m.call(S, 0x14, ax=0x0200, dx=0)
    assert m.cpu.reg("al") == ord("z") and m.cpu.reg("ah") & 0x01
    assert m.call(S, 0x14, ax=0x0200, dx=0) is Outcome.WAIT
    m.clock.advance(10 * waits.NS_PER_TICK)  # the COM1 timeout at 0x47C: 10 ticks
    assert m.call(S, 0x14, ax=0x0200, dx=0) is Outcome.DONE
    assert m.cpu.reg("ah") == 0xE0 and not m.cpu.flag("cf")
