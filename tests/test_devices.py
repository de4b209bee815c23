"""Device unit tests against datasheet (and QEMU) behaviour, and Bus routing."""

from __future__ import annotations

import pytest

from bt.bus import Bus
from bt.devices.debugcon import DebugCon
from bt.devices.exit_port import ExitPort
from bt.devices.uart16550 import Uart16550
from bt.errors import InternalError


def uart() -> tuple[Uart16550, bytearray]:
    out = bytearray()
    return Uart16550(out.extend), out


def test_uart_reset_values() -> None:
    u, _ = uart()
    assert u.read(5, 1) == 0x60  # LSR: THR empty, transmitter empty
    assert u.read(2, 1) == 0x01  # IIR: no interrupt pending
    assert u.read(3, 1) == 0x00 and u.read(4, 1) == 0x00
    assert u.read(6, 1) == 0xB0  # MSR: DCD, DSR, CTS as QEMU reports


def test_uart_transmits_and_scratch_reads_back() -> None:
    u, out = uart()
    u.write(0, 1, ord("h"))
    u.write(0, 1, ord("i"))
    assert out == b"hi"
    u.write(7, 1, 0x5A)
    assert u.read(7, 1) == 0x5A


def test_uart_dlab_switches_to_divisor_latch() -> None:
    u, out = uart()
    u.write(3, 1, 0x83)
    u.write(0, 2, 0x0C03)  # 16-bit write spans DLL and DLM
    assert u.read(0, 1) == 0x03 and u.read(1, 1) == 0x0C
    assert u.read(0, 2) == 0x0C03
    assert out == b""  # divisor writes are not data
    u.write(3, 1, 0x03)
    assert u.read(1, 1) == 0x00  # IER again


def test_uart_receive_and_data_ready() -> None:
    u, _ = uart()
    u.feed(b"ok")
    assert u.read(5, 1) & 1
    assert u.read(0, 1) == ord("o") and u.read(0, 1) == ord("k")
    assert not u.read(5, 1) & 1


def test_uart_interrupt_identification_priorities() -> None:
    u, _ = uart()
    u.write(1, 1, 0x03)  # enable RDA and THRE interrupts
    assert u.irq_pending()
    assert u.read(2, 1) == 0x02  # THRE, at once
    assert u.read(2, 1) == 0x01  # reading IIR acknowledged THRE
    u.feed(b"x")
    u.write(0, 1, ord("y"))  # THRE again, but received data has priority
    assert u.read(2, 1) == 0x04
    u.read(0, 1)
    assert u.read(2, 1) == 0x02


def test_uart_fifo_bits_and_loopback() -> None:
    u, out = uart()
    u.write(2, 1, 0x07)
    assert u.read(2, 1) == 0xC1
    u.write(4, 1, 0x1F)  # loopback with all modem outputs set
    assert u.read(6, 1) == 0xF0
    u.write(0, 1, 0x42)
    assert out == b"" and u.read(0, 1) == 0x42


def test_debugcon() -> None:
    out = bytearray()
    d = DebugCon(out.extend)
    d.write(0, 1, ord("A"))
    assert out == b"A"
    assert d.read(0, 1) == 0xE9 and d.read(0, 2) == 0


@pytest.mark.parametrize(("value", "status"), [(0, 1), (1, 3), (0x7F, 0xFF), (0x80, 1)])
def test_exit_port_status(value: int, status: int) -> None:
    p = ExitPort()
    assert p.exit_status is None and p.read(0, 1) == 0
    p.write(0, 1, value)
    assert p.exit_status == status


class Reg:
    def __init__(self) -> None:
        self.log: list[tuple[str, int, int, int]] = []

    def read(self, offset: int, size: int) -> int:
        self.log.append(("r", offset, size, 0))
        return 0x12345678

    def write(self, offset: int, size: int, value: int) -> None:
        self.log.append(("w", offset, size, value))


def test_bus_routes_offsets_and_masks_sizes() -> None:
    bus, dev = Bus(), Reg()
    bus.register(0x3F8, 8, dev, "com1")
    assert bus.read(0x3FA, 1) == 0x78
    bus.write(0x3FF, 2, 0xABCDEF)
    assert dev.log == [("r", 2, 1, 0), ("w", 7, 2, 0xCDEF)]
    assert bus.read(0x100, 4) == 0xFFFFFFFF  # nothing there: all ones
    bus.write(0x100, 1, 1)
    assert bus.stats().unclaimed == 2


def test_bus_refuses_overlaps() -> None:
    bus = Bus()
    bus.register(0x60, 1, Reg(), "kbd")
    bus.register(0x64, 1, Reg(), "kbd-status")
    with pytest.raises(InternalError):
        bus.register(0x5F, 2, Reg(), "clash")
    with pytest.raises(InternalError):
        bus.register(0x64, 1, Reg(), "clash")
    assert [r.name for r in bus.ranges()] == ["kbd", "kbd-status"]
