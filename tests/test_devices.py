"""Device unit tests against the 16550 datasheet and QEMU 7.2 as a probe guest measured it."""

from __future__ import annotations

import pytest

from bt.devices.debugcon import DebugCon
from bt.devices.exit_port import ExitPort
from bt.devices.uart16550 import Uart16550

THR, IER, IIR, LCR, MCR, LSR, MSR, SCR = range(8)
FCR = IIR
DLL, DLM = THR, IER


def uart(source: bytes | None = None) -> tuple[Uart16550, bytearray]:
    out = bytearray()
    if source is None:
        return Uart16550(out.extend), out
    pending = [source]

    def take() -> bytes:
        data, pending[:] = b"".join(pending), []
        return data

    return Uart16550(out.extend, take), out


# -- UART: registers -----------------------------------------------------------------------------
def test_uart_reset_values_as_qemu() -> None:
    u, _ = uart()
    assert [u.read(r, 1) for r in range(8)] == [0, 0x00, 0x01, 0x00, 0x08, 0x60, 0xB0, 0x00]
    u.write(LCR, 1, 0x80)
    assert (u.read(DLL, 1), u.read(DLM, 1)) == (0x0C, 0x00)  # 9600 baud


def test_uart_transmits_to_sink() -> None:
    u, out = uart()
    u.write(THR, 1, ord("h"))
    u.write(THR, 1, ord("i"))
    assert out == b"hi"
    assert u.read(LSR, 1) == 0x60  # output is immediate: always empty


def test_uart_scratch_reads_back() -> None:
    u, _ = uart()
    for value in (0x00, 0x5A, 0xA5, 0xFF):
        u.write(SCR, 1, value)
        assert u.read(SCR, 1) == value


def test_uart_register_masks() -> None:
    u, _ = uart()
    u.write(IER, 1, 0xFF)
    u.write(MCR, 1, 0xFF)
    u.write(LCR, 1, 0x7F)
    assert (u.read(IER, 1), u.read(MCR, 1), u.read(LCR, 1)) == (0x0F, 0x1F, 0x7F)
    u.write(LSR, 1, 0x00)
    u.write(MSR, 1, 0x00)
    assert (u.read(LSR, 1), u.read(MSR, 1) & 0x0F) == (0x60, 0)  # read-only


def test_uart_dlab_switches_offsets_0_and_1() -> None:
    u, out = uart()
    u.write(IER, 1, 0x05)
    u.write(LCR, 1, 0x83)
    u.write(DLL, 2, 0x0C03)  # a 16-bit write covers DLL then DLM
    assert (u.read(DLL, 1), u.read(DLM, 1), u.read(DLL, 2)) == (0x03, 0x0C, 0x0C03)
    assert u.divisor == 0x0C03
    assert out == b""  # divisor writes are not data
    u.write(LCR, 1, 0x03)
    assert u.read(IER, 1) == 0x05  # IER was kept behind the latch
    assert u.read(LCR, 1) == 0x03


def test_uart_wide_access_is_split_per_register() -> None:
    u, _ = uart()
    assert u.read(IER, 2) == 0x0100  # IER then IIR (measured in QEMU)
    assert u.read(MSR, 4) == 0xFFFF00B0  # bytes past SCR: nothing there
    u.write(SCR, 2, 0x1234)
    assert u.read(SCR, 1) == 0x34


# -- UART: receiver and line status ---------------------------------------------------------------
def test_uart_receive_sets_data_ready_and_rbr_pops() -> None:
    u, _ = uart()
    u.feed(b"ok")
    assert u.read(LSR, 1) == 0x61
    assert u.read(THR, 1) == ord("o")
    assert u.read(LSR, 1) == 0x61  # the next byte moved in once there was room
    assert u.read(THR, 1) == ord("k")
    assert u.read(LSR, 1) == 0x60
    assert u.read(THR, 1) == ord("k")  # no FIFO: an empty read returns the stale byte


def test_uart_polls_its_source() -> None:
    u, _ = uart(source=b"ab")
    assert u.read(LSR, 1) & 1
    assert u.read(THR, 1) == ord("a") and u.read(THR, 1) == ord("b")
    assert not u.read(LSR, 1) & 1


def test_uart_fifo_mode_receive() -> None:
    u, _ = uart()
    u.write(FCR, 1, 0x01)
    u.feed(b"xyz")
    assert [u.read(THR, 1) for _ in range(3)] == list(b"xyz")
    assert u.read(THR, 1) == 0  # an empty FIFO reads 0
    assert not u.read(LSR, 1) & 1


# -- UART: FIFO control ---------------------------------------------------------------------------
def test_uart_fifo_enable_bits_in_iir() -> None:
    u, _ = uart()
    u.write(FCR, 1, 0x07)
    assert u.read(IIR, 1) == 0xC1
    assert u.fcr == 0x01  # reset bits do not stick
    u.write(FCR, 1, 0xC1)
    assert u.fcr == 0xC1
    u.write(FCR, 1, 0x00)
    assert u.read(IIR, 1) == 0x01


def test_uart_fifo_receiver_reset_drops_data() -> None:
    u, _ = uart()
    u.write(FCR, 1, 0x01)
    u.write(MCR, 1, 0x10)
    u.write(THR, 1, 0x41)
    u.write(FCR, 1, 0x03)
    assert u.read(LSR, 1) == 0x60


# -- UART: interrupt identification --------------------------------------------------------------
def test_uart_thre_interrupt_and_acknowledge() -> None:
    u, _ = uart()
    assert not u.irq_pending()
    u.write(IER, 1, 0x02)
    assert u.irq_pending()
    assert u.read(IIR, 1) == 0x02
    assert u.read(IIR, 1) == 0x01  # reading IIR acknowledged THR empty
    assert not u.irq_pending()
    u.write(IER, 1, 0x02)  # no rising edge: stays acknowledged
    assert u.read(IIR, 1) == 0x01
    u.write(IER, 1, 0x00)
    u.write(IER, 1, 0x02)  # a rising edge raises it again (QEMU, measured)
    assert u.read(IIR, 1) == 0x02
    u.write(THR, 1, 0x20)  # sent at once: THR empty again
    assert u.read(IIR, 1) == 0x02


def test_uart_thre_pending_is_dropped_when_disabled() -> None:
    u, _ = uart()
    u.write(IER, 1, 0x02)
    u.write(IER, 1, 0x00)
    u.write(IER, 1, 0x01)
    assert u.read(IIR, 1) == 0x01


def test_uart_received_data_outranks_thre() -> None:
    u, _ = uart()
    u.write(IER, 1, 0x03)
    u.feed(b"x")
    assert u.read(IIR, 1) == 0x04
    assert u.read(IIR, 1) == 0x04  # reading IIR does not acknowledge received data
    u.read(THR, 1)
    assert u.read(IIR, 1) == 0x02  # THR empty was pending underneath
    assert u.read(IIR, 1) == 0x01


def test_uart_line_status_outranks_received_data() -> None:
    u, _ = uart()
    u.write(MCR, 1, 0x10)
    u.write(IER, 1, 0x05)
    u.write(THR, 1, 0x41)
    u.write(THR, 1, 0x42)  # overrun of the holding register
    assert u.read(IIR, 1) == 0x06
    assert u.read(LSR, 1) == 0x63  # reading LSR clears overrun
    assert u.read(IIR, 1) == 0x04


def test_uart_disabled_conditions_do_not_interrupt() -> None:
    u, _ = uart()
    u.feed(b"x")
    u.write(THR, 1, 0x20)
    assert u.read(IIR, 1) == 0x01
    assert not u.irq_pending()


def test_uart_fifo_trigger_level_and_timeout() -> None:
    u, _ = uart()
    u.write(FCR, 1, 0x41)  # FIFOs on, trigger level 4
    u.write(IER, 1, 0x01)
    u.feed(b"abcd")
    assert u.read(IIR, 1) == 0xC4  # 4 bytes reached the trigger level
    u.read(THR, 1)
    assert u.read(IIR, 1) == 0xCC  # below it: character timeout (no clock: at once)
    for _ in range(3):
        u.read(THR, 1)
    assert u.read(IIR, 1) == 0xC1


# -- UART: loopback ------------------------------------------------------------------------------
def test_uart_loopback_returns_bytes_and_wires_modem_lines() -> None:
    u, out = uart()
    u.write(MCR, 1, 0x1F)
    assert u.read(MSR, 1) == 0xF0
    u.write(MCR, 1, 0x11)
    assert u.read(MSR, 1) == 0x20  # DTR -> DSR
    u.write(MCR, 1, 0x12)
    assert u.read(MSR, 1) == 0x10  # RTS -> CTS
    u.write(MCR, 1, 0x14)
    assert u.read(MSR, 1) == 0x40  # OUT1 -> RI
    u.write(MCR, 1, 0x18)
    assert u.read(MSR, 1) == 0x80  # OUT2 -> DCD
    u.write(THR, 1, 0x42)
    assert out == b""
    assert u.read(LSR, 1) == 0x61 and u.read(THR, 1) == 0x42
    u.write(MCR, 1, 0x08)
    assert u.read(MSR, 1) == 0xB0


def test_uart_loopback_overrun_matches_qemu() -> None:
    u, _ = uart()
    u.write(MCR, 1, 0x1F)
    u.write(THR, 1, 0x41)
    u.write(THR, 1, 0x42)
    assert [u.read(LSR, 1), u.read(LSR, 1), u.read(THR, 1), u.read(LSR, 1)] == [
        0x63,
        0x61,
        0x42,
        0x60,
    ]


def test_uart_loopback_with_fifo() -> None:
    u, _ = uart()
    u.write(FCR, 1, 0x01)
    u.write(IER, 1, 0x05)
    u.write(MCR, 1, 0x10)
    u.write(THR, 1, 0x43)
    assert [u.read(IIR, 1), u.read(THR, 1), u.read(THR, 1), u.read(IIR, 1)] == [
        0xC4,
        0x43,
        0x00,
        0xC1,
    ]


def test_uart_loopback_fifo_overrun_keeps_contents() -> None:
    u, _ = uart()
    u.write(FCR, 1, 0x01)
    u.write(MCR, 1, 0x10)
    for byte in range(17):
        u.write(THR, 1, byte)
    assert u.read(LSR, 1) == 0x63
    assert [u.read(THR, 1) for _ in range(16)] == list(range(16))


def test_uart_loopback_ignores_host_input() -> None:
    u, _ = uart()
    u.write(MCR, 1, 0x10)
    u.feed(b"h")
    assert u.read(LSR, 1) == 0x60
    u.write(MCR, 1, 0x00)
    assert u.read(THR, 1) == ord("h")


# -- debug console -------------------------------------------------------------------------------
def test_debugcon_prints_bytes_and_reads_back_e9() -> None:
    out = bytearray()
    d = DebugCon(out.extend)
    d.write(0, 1, ord("A"))
    assert out == b"A"
    assert d.read(0, 1) == 0xE9


def test_debugcon_wide_accesses_as_qemu() -> None:
    out = bytearray()
    d = DebugCon(out.extend)
    d.write(0, 2, 0x4241)
    d.write(0, 4, 0x46454443)
    assert out == b""
    assert d.read(0, 2) == 0 and d.read(0, 4) == 0


# -- exit port -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "requested", "status"),
    [
        (0, 1, 1),
        (1, 3, 3),
        (0x21, 67, 67),
        (0x7F, 0xFF, 0xFF),
        (0x80, 0x101, 1),
        (0x0180, 0x301, 1),
        (0xFFFFFFFF, 0x1FFFFFFFF, 0xFF),
    ],
)
def test_exit_port_status(value: int, requested: int, status: int) -> None:
    p = ExitPort()
    before = (p.requested_status, p.exit_status)
    p.write(0, 4, value)
    assert before == (None, None)
    assert (p.requested_status, p.exit_status) == (requested, status)


def test_exit_port_reads_zero_at_every_offset() -> None:
    p = ExitPort()
    assert [p.read(off, size) for off in range(4) for size in (1, 2, 4)] == [0] * 12
    p.write(3, 1, 2)
    assert p.exit_status == 5  # the offset does not matter
