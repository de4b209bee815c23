"""Unit tests of the RTC/CMOS: QEMU's measured bytes, time registers, periodic and update IRQs."""

from __future__ import annotations

from bt.devices.cmos import Cmos
from bt.devices.cmos_layout import memory_bytes, ram_split
from bt.timebase import NS_PER_SEC, VirtualClock

MIB = 1 << 20

# `IN` of CMOS 0x00-0x7F under QEMU 7.2 + SeaBIOS at -m 128; None: time registers (0,2,4,6-9).
MEASURED_128M = bytes.fromhex(
    "00000000000000000000260200800000"
    "50000000078002ffff00000000000000"
    "00000000000000000000000000000000"
    "ffff2000000700203000000000120000" + "00" * 64
)
TIME_INDEXES = {0, 2, 4, 6, 7, 8, 9}


def make(ram: int = 128 * MIB, start: int | None = None) -> tuple[VirtualClock, Cmos, list[int]]:
    clock = VirtualClock()
    levels: list[int] = []
    if start is None:
        cmos = Cmos(clock, ram, levels.append)
    else:
        cmos = Cmos(clock, ram, levels.append, start_time=start)
    return clock, cmos, levels


def rd(cmos: Cmos, index: int) -> int:
    cmos.write(0, 1, index)
    return cmos.read(1, 1)


def wr(cmos: Cmos, index: int, value: int) -> None:
    cmos.write(0, 1, index)
    cmos.write(1, 1, value)


def test_dump_matches_qemu_at_128m() -> None:
    _, cmos, _ = make()
    for index in range(128):
        if index in TIME_INDEXES:
            continue
        assert rd(cmos, index) == MEASURED_128M[index], hex(index)


def test_memory_sizes_measured_under_qemu() -> None:
    m128 = memory_bytes(128 * MIB)
    assert (m128[0x17], m128[0x18], m128[0x30], m128[0x31]) == (0xFF, 0xFF, 0xFF, 0xFF)
    assert (m128[0x34], m128[0x35]) == (0x00, 0x07)
    m16 = memory_bytes(16 * MIB)
    assert (m16[0x17], m16[0x18], m16[0x34], m16[0x35]) == (0x00, 0x3C, 0, 0)
    m3000 = memory_bytes(3000 * MIB)
    assert (m3000[0x34], m3000[0x35], m3000[0x5C]) == (0x80, 0xBA, 0)
    m3584 = memory_bytes(3584 * MIB)  # 3.5 GiB: 3 GiB low, 512 MiB above 4 GiB
    assert (m3584[0x34], m3584[0x35]) == (0x00, 0xBF)
    assert (m3584[0x5B], m3584[0x5C], m3584[0x5D]) == (0x00, 0x20, 0x00)
    m5g = memory_bytes(5120 * MIB)
    assert (m5g[0x5B], m5g[0x5C], m5g[0x5D]) == (0x00, 0x80, 0x00)
    assert ram_split(3584 * MIB).below_4g == 3 << 30


def test_default_start_time_registers() -> None:
    _, cmos, _ = make()  # 2000-01-01 00:00:00 UTC, a Saturday
    regs = [rd(cmos, i) for i in (0, 2, 4, 6, 7, 8, 9, 0x32)]
    assert regs == [0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00, 0x20]
    assert rd(cmos, 0x37) == 0x20  # the PS/2 century byte aliases 0x32


def test_time_advances_with_the_clock_in_bcd_24h() -> None:
    clock, cmos, _ = make()
    clock.advance(13 * 3600 * NS_PER_SEC + 59 * 60 * NS_PER_SEC + 58 * NS_PER_SEC)
    assert (rd(cmos, 4), rd(cmos, 2), rd(cmos, 0)) == (0x13, 0x59, 0x58)


def test_binary_and_12_hour_modes() -> None:
    clock, cmos, _ = make(start=946731600)  # 2000-01-01 13:00:00
    wr(cmos, 0x0B, 0x04)  # binary, 12 h
    assert rd(cmos, 4) == 0x81  # 1 PM
    wr(cmos, 0x0B, 0x06)  # binary, 24 h
    assert rd(cmos, 4) == 13
    wr(cmos, 0x0B, 0x00)  # BCD, 12 h
    clock.advance(11 * 3600 * NS_PER_SEC)  # midnight
    assert rd(cmos, 4) == 0x12
    assert rd(cmos, 7) == 0x02


def test_setting_the_time_with_set() -> None:
    clock, cmos, _ = make()
    wr(cmos, 0x0B, 0x82)  # SET, 24 h, BCD
    wr(cmos, 4, 0x21)
    wr(cmos, 2, 0x30)
    wr(cmos, 0, 0x15)
    clock.advance(5 * NS_PER_SEC)
    assert rd(cmos, 0) == 0x15  # frozen while SET
    wr(cmos, 0x0B, 0x02)
    clock.advance(2 * NS_PER_SEC)
    assert (rd(cmos, 4), rd(cmos, 2), rd(cmos, 0)) == (0x21, 0x30, 0x17)


def test_periodic_interrupt_rate_and_register_c() -> None:
    clock, cmos, levels = make()
    assert cmos.next_deadline_ns() is None
    wr(cmos, 0x0B, 0x42)  # PIE; rate 6 from register A = 1024 Hz
    first = cmos.next_deadline_ns()
    assert first == 32 * NS_PER_SEC // 32768 + 1  # 32 cycles of 32768 Hz, QEMU's +1 ns
    clock.advance_to(first)
    cmos.tick(first)
    assert levels == [0, 1]  # lowered by the B write, then raised
    second = cmos.next_deadline_ns()
    assert second == 64 * NS_PER_SEC // 32768 + 1
    assert rd(cmos, 0x0C) == 0xC0  # IRQF | PF
    assert levels[-1] == 0
    assert rd(cmos, 0x0C) == 0x00  # cleared by the read


def test_periodic_rate_codes() -> None:
    clock, cmos, _ = make()
    wr(cmos, 0x0A, 0x23)  # rate 3: 8192 Hz
    wr(cmos, 0x0B, 0x42)
    assert cmos.next_deadline_ns() == 4 * NS_PER_SEC // 32768 + 1
    wr(cmos, 0x0A, 0x21)  # rate 1 behaves as 8: 256 Hz
    deadline = cmos.next_deadline_ns()
    assert deadline is not None and deadline == 128 * NS_PER_SEC // 32768 + 1
    wr(cmos, 0x0A, 0x20)  # rate 0: off
    assert cmos.next_deadline_ns() is None


def test_no_periodic_flag_without_pie_as_in_qemu() -> None:
    clock, cmos, levels = make()
    clock.advance(NS_PER_SEC // 2)
    cmos.tick(clock.now_ns())
    assert rd(cmos, 0x0C) == 0x00
    assert levels == [0]  # only the lowering read


def test_update_flag_and_interrupt() -> None:
    clock, cmos, levels = make()
    clock.advance(NS_PER_SEC + 1)
    assert rd(cmos, 0x0C) == 0x10  # UF without UIE: flag only
    assert 1 not in levels
    wr(cmos, 0x0B, 0x12)  # UIE
    deadline = cmos.next_deadline_ns()
    assert deadline == 2 * NS_PER_SEC
    clock.advance_to(deadline)
    cmos.tick(deadline)
    assert levels[-1] == 1
    assert rd(cmos, 0x0C) == 0x90


def test_alarm_interrupt() -> None:
    clock, cmos, levels = make()
    wr(cmos, 1, 0x05)  # alarm 00:00:05
    wr(cmos, 3, 0x00)
    wr(cmos, 5, 0x00)
    wr(cmos, 0x0B, 0x22)  # AIE
    for _ in range(6):
        deadline = cmos.next_deadline_ns()
        assert deadline is not None
        clock.advance_to(deadline)
        cmos.tick(deadline)
        if levels and levels[-1] == 1:
            break
    assert clock.now_ns() == 5 * NS_PER_SEC
    assert rd(cmos, 0x0C) & 0xA0 == 0xA0  # IRQF | AF


def test_alarm_dont_care_matches_every_minute() -> None:
    clock, cmos, _ = make()
    wr(cmos, 1, 0x30)
    wr(cmos, 3, 0xC0)
    wr(cmos, 5, 0xC0)
    clock.advance(29 * NS_PER_SEC)
    assert rd(cmos, 0x0C) & 0x20 == 0
    clock.advance(2 * NS_PER_SEC)
    assert rd(cmos, 0x0C) & 0x20 == 0x20
    clock.advance(61 * NS_PER_SEC)
    assert rd(cmos, 0x0C) & 0x20 == 0x20


def test_uip_in_the_last_244_us() -> None:
    clock, cmos, _ = make()
    clock.advance(NS_PER_SEC - 300_000)
    assert rd(cmos, 0x0A) == 0x26
    clock.advance(100_000)
    assert rd(cmos, 0x0A) == 0xA6


def test_read_only_bits_and_registers() -> None:
    _, cmos, _ = make()
    wr(cmos, 0x0D, 0x00)
    assert rd(cmos, 0x0D) == 0x80
    wr(cmos, 0x0A, 0xA6)
    assert rd(cmos, 0x0A) == 0x26  # UIP is read-only
    wr(cmos, 0x0B, 0x92)  # SET clears UIE
    assert rd(cmos, 0x0B) == 0x82


def test_index_port_and_nmi_bit() -> None:
    _, cmos, _ = make()
    cmos.write(0, 1, 0x8F)
    assert cmos.nmi_masked
    assert cmos.read(0, 1) == 0xFF  # write-only, as measured
    cmos.write(1, 1, 0x5A)
    assert rd(cmos, 0x0F) == 0x5A
    assert cmos.read(1, 1) == 0x5A  # the index stays
    cmos.write(0, 1, 0x0F)
    assert not cmos.nmi_masked
