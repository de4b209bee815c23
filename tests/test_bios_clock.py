"""INT 08h and INT 1Ah: the tick count and the RTC through the real CMOS device (SeaBIOS 1.16
src/clock.c handle_08, handle_1a0x; INT 1Ah AH=02h/04h as measured under QEMU 7.2: AL = CH)."""

from __future__ import annotations

from bt.bios import bda
from bt.bios.api import Outcome, Unsupported
from bt.bios.clock import TICKS_PER_DAY, RtcIrq, TimeOfDay, TimerIrq
from tests.biosmachine import Machine

T = TimeOfDay()


def test_timer_irq_counts_and_rolls_over_at_midnight() -> None:
    m = Machine()
    m.call(T, 0x1A, ax=0x0100, cx=0x0018, dx=0x00AE)  # 0x1800AE
    m.call(TimerIrq(), 0x08)
    assert m.mem.read_phys(bda.TIMER_COUNTER, 4) == (0x1800AF).to_bytes(4, "little")
    m.call(TimerIrq(), 0x08)
    assert m.mem.read_phys(bda.TIMER_COUNTER, 5) == bytes(4) + b"\x01"
    assert TICKS_PER_DAY == 0x1800B0
    m.call(T, 0x1A, ax=0x0000)
    assert (m.cpu.reg("al"), m.cpu.reg("cx"), m.cpu.reg("dx")) == (1, 0, 0)
    m.call(T, 0x1A, ax=0x0000)
    assert m.cpu.reg("al") == 0  # the flag is cleared by reading it


def test_timer_irq_counts_the_floppy_motor_down() -> None:
    m = Machine()
    m.mem.write_phys(bda.FLOPPY_MOTOR_COUNTER, b"\x02")
    m.call(TimerIrq(), 0x08)
    assert m.bda8(bda.FLOPPY_MOTOR_COUNTER) == 1
    m.call(TimerIrq(), 0x08)
    m.call(TimerIrq(), 0x08)
    assert m.bda8(bda.FLOPPY_MOTOR_COUNTER) == 0


def test_rtc_time_and_date() -> None:
    m = Machine()  # the CMOS starts at 2000-01-01 00:00:00
    m.clock.advance((5 * 3600 + 24 * 60 + 43) * 10**9)
    assert m.call(T, 0x1A, ax=0x0200) is Outcome.DONE
    assert (m.cpu.reg("cx"), m.cpu.reg("dx"), m.cpu.reg("ax")) == (0x0524, 0x4300, 0x0005)
    m.call(T, 0x1A, ax=0x0400)
    assert (m.cpu.reg("cx"), m.cpu.reg("dx"), m.cpu.reg("ax")) == (0x2000, 0x0101, 0x0020)
    assert not m.cpu.flag("cf")


def test_rtc_update_in_progress_waits() -> None:
    m = Machine()
    m.clock.advance(10**9 - 100_000)  # UIP shows in the last 244 us of a second
    assert m.call(T, 0x1A, ax=0x0200) is Outcome.WAIT
    m.clock.advance(200_000)
    assert m.call(T, 0x1A, ax=0x0200) is Outcome.DONE and m.cpu.reg("dh") == 0x01


def test_set_time_date_and_alarm() -> None:
    m = Machine()
    m.call(T, 0x1A, ax=0x0300, cx=0x2359, dx=0x5801)
    assert m.cpu.reg("ax") == 0x0003  # register B: 24 h | DSE
    m.call(T, 0x1A, ax=0x0500, cx=0x1999, dx=0x1231)
    m.clock.advance(3 * 10**9)
    m.call(T, 0x1A, ax=0x0200)
    assert (m.cpu.reg("cx"), m.cpu.reg("dh"), m.cpu.reg("dl")) == (0x0000, 0x01, 0x01)
    m.call(T, 0x1A, ax=0x0400)
    assert (m.cpu.reg("cx"), m.cpu.reg("dx")) == (0x2000, 0x0101)  # past midnight, 1999->2000
    m.call(T, 0x1A, ax=0x0600, cx=0x0101, dx=0x0000)
    assert not m.cpu.flag("cf") and m.cmos.data[0x0B] & 0x20
    m.call(T, 0x1A, ax=0x0600, cx=0x0101, dx=0x0000)
    assert m.cpu.flag("cf")  # already set
    m.call(T, 0x1A, ax=0x0700)
    assert not m.cmos.data[0x0B] & 0x20 and m.cpu.reg("al") & 0x20
    assert isinstance(m.call(T, 0x1A, ax=0x0800), Unsupported)


def test_rtc_irq_acknowledges_the_interrupt() -> None:
    m = Machine()
    m.cmos.write(0, 1, 0x0B)
    m.cmos.write(1, 1, 0x42)  # periodic interrupt on
    m.clock.advance(10**9 // 1024 + 1)
    m.cmos.tick(m.clock.now_ns())
    assert m.cmos.data[0x0C] & 0xC0 == 0xC0 and m.pics.slave.irr & 0x01
    m.call(RtcIrq(), 0x70)
    assert m.cmos.data[0x0C] == 0  # read: the next periodic interrupt raises IRQ 8 again
