"""Cmos: the MC146818 real-time clock and its 128 bytes of CMOS memory at ports 0x70-0x71.

The reference is QEMU 7.2's hw/rtc/mc146818rtc.c and pc_cmos_init, measured with a probe kernel
that dumps all 128 bytes under qemu-system-i386 -kernel (SeaBIOS) at -m 16, 128, 3000, 3584 and
5120. As a guest sees it:

- Port 0x70 selects the index (bits 6-0); bit 7 is the NMI mask, kept in `nmi_masked` for the
  machine (QEMU ignores it). Port 0x70 reads 0xFF; port 0x71 reads/writes the selected byte and
  the index stays. Index 0x37 (the IBM PS/2 century byte) is an alias of 0x32 and moves the
  index there, as in QEMU.
- Time registers 0x00-0x09 follow a clock that starts at `start_time` (default 2000-01-01
  00:00:00 UTC, so runs are deterministic; the machine may pass the host time) and advances
  with the guest Clock. BCD or binary and 12/24 h per register B (DM bit 2, 24/12 bit 1; PM is
  bit 7 of the hour in 12 h mode); the century (0x32) is BCD/binary too. Writing a time register
  while the clock runs sets the time; with SET (B bit 7) the registers are frozen and the new
  time is taken when SET clears. A divider reset (A bits 6-5 = 11) stops the clock; releasing
  it starts the first update half a second later.
- Register A: UIP (bit 7, read-only) reads 1 in the last 244 us of each second; bits 6-4
  divider, bits 3-0 periodic rate. Register B: SET, PIE, AIE, UIE, SQWE, DM, 24/12, DSE; setting
  SET clears UIE. Register C: IRQF, PF, AF, UF; reading it returns and clears it and lowers the
  IRQ 8 line. Register D: 0x80 (valid RAM), writes to C and D are ignored.
- The periodic interrupt runs only while PIE is set (QEMU; the datasheet sets PF regardless):
  every 2^(rate-1) cycles of 32768 Hz (rates 1 and 2 as 8 and 9: 256 and 128 Hz), phased from
  the moment PIE or the rate changed, each one setting PF and IRQF and raising IRQ 8.
- UF is set at every second boundary and AF when the time matches the alarm (0xC0-0xFF in an
  alarm byte is "don't care"); either raises IRQ 8 when enabled in B. They are computed when C
  is read or the device is ticked; a deadline is scheduled only while UIE or AIE is set.
- The IRQ line goes to `irq(level)` (a level, like qemu_set_irq): raised with IRQF, lowered by a
  read of C or when B is written with no enabled flag pending.

Memory bytes (measured, identical to pc_cmos_init for the default `pc` machine with no disks):
0x0A 0x26, 0x0B 0x02, 0x0D 0x80, 0x10 0x50 (floppy 0: 2.88 MB, QEMU's default drive type),
0x14 0x07 (equipment: floppy, FPU, PS/2 mouse, VGA), 0x15/0x16 640 KiB, 0x17/0x18 and 0x30/0x31
extended memory in KiB (below 4 GiB, minus 1 MiB, capped at 65535), 0x32 century, 0x34/0x35
memory above 16 MiB in 64 KiB units (capped at 65535), 0x38 0x30 and 0x3D 0x12 (boot order
"cad" and floppy signature check), 0x5B-0x5D memory above 4 GiB in 64 KiB units, 0x5F CPUs - 1
= 0; everything else 0, alarms included. RAM of 3.5 GiB or more is split as pc-i440fx does:
3 GiB below 4 GiB and the rest above (measured: -m 3584 gives 0x34/0x35 = 0xBF00 and
0x5B-0x5D = 00 20 00; -m 3000 keeps it all low: 0xBA80).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bt.devices.records import CmosState
from bt.staterecord import check_record, require, require_range

NS_PER_SEC = 1_000_000_000


class Clock(Protocol):
    """Guest time (bt.timebase.Clock, restated: devices import nothing above bt.devices)."""

    def now_ns(self) -> int:
        """Nanoseconds of guest time."""
        ...


SECONDS, SECONDS_ALARM, MINUTES, MINUTES_ALARM, HOURS, HOURS_ALARM = range(6)
DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR = range(6, 10)
REG_A, REG_B, REG_C, REG_D = 0x0A, 0x0B, 0x0C, 0x0D
CENTURY = 0x32
PS2_CENTURY = 0x37
CMOS_SIZE = 128
TIME_REGS = (SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY)

A_UIP = 0x80
B_SET, B_PIE, B_AIE, B_UIE, B_SQWE, B_DM, B_24H = 0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02
C_IRQF, C_PF, C_AF, C_UF = 0x80, 0x40, 0x20, 0x10
C_MASK = 0x70
DONT_CARE = 0xC0

RTC_CLOCK_RATE = 32768
UIP_HOLD_NS = 8 * NS_PER_SEC // RTC_CLOCK_RATE  # UIP shows for the last 244 us of a second
SECONDS_PER_DAY = 86400

DEFAULT_START_TIME = 946684800  # 2000-01-01 00:00:00 UTC: deterministic unless told otherwise
KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
LOWMEM_SPLIT = 0xE0000000  # pc-i440fx: RAM this large or larger puts 3 GiB below 4 GiB
LOWMEM_GB_ALIGNED = 0xC0000000

# What QEMU/SeaBIOS leave in the non-time bytes (see the module docstring).
FIXED_BYTES = {
    REG_A: 0x26, REG_B: 0x02, REG_D: 0x80,
    0x10: 0x50, 0x14: 0x07, 0x15: 0x80, 0x16: 0x02, 0x38: 0x30, 0x3D: 0x12,
}


@dataclass(frozen=True, slots=True)
class RamSplit:
    """Guest RAM as the chipset maps it: below 4 GiB and remapped above."""

    below_4g: int
    above_4g: int


def ram_split(ram_size: int) -> RamSplit:
    """pc-i440fx's split: all low below 3.5 GiB, otherwise 3 GiB low and the rest high."""
    if ram_size >= LOWMEM_SPLIT:
        return RamSplit(LOWMEM_GB_ALIGNED, ram_size - LOWMEM_GB_ALIGNED)
    return RamSplit(ram_size, 0)


def memory_bytes(ram_size: int) -> dict[int, int]:
    """The CMOS memory-size bytes QEMU's pc_cmos_init writes for `ram_size` bytes of RAM."""
    split = ram_split(ram_size)
    ext_kib = min(split.below_4g // KIB - 1024, 0xFFFF)
    high = min(max(split.below_4g - 16 * MIB, 0) // (64 * KIB), 0xFFFF)
    above = split.above_4g // (64 * KIB)
    return {
        0x17: ext_kib & 0xFF, 0x18: ext_kib >> 8,
        0x30: ext_kib & 0xFF, 0x31: ext_kib >> 8,
        0x34: high & 0xFF, 0x35: high >> 8,
        0x5B: above & 0xFF, 0x5C: (above >> 8) & 0xFF, 0x5D: (above >> 16) & 0xFF,
    }


def periodic_ticks(rate: int) -> int:
    """32768 Hz cycles between periodic interrupts for rate code `rate` (0: off)."""
    if rate == 0:
        return 0
    if rate <= 2:
        rate += 7  # rates 1 and 2 are 256 and 128 Hz on a 32768 Hz time base
    return 1 << (rate - 1)


class Cmos:
    """The RTC and CMOS RAM; `irq(level)` is IRQ 8."""

    def __init__(
        self,
        clock: Clock,
        ram_size: int,
        irq: Callable[[int], None] | None = None,
        start_time: int = DEFAULT_START_TIME,
    ) -> None:
        self._clock = clock
        self._irq = irq
        self.data = bytearray(CMOS_SIZE)
        for index, value in FIXED_BYTES.items():
            self.data[index] = value
        for index, value in memory_bytes(ram_size).items():
            self.data[index] = value
        self.index = 0
        self.nmi_masked = False
        now = clock.now_ns()
        # The guest RTC in ns is base_sec * 1e9 + (now - base_ns) + offset_ns (QEMU's scheme).
        self._base_sec = start_time
        self._base_ns = now
        self._offset_ns = 0
        self._set_registers(start_time)
        self._period = 0  # 32 kHz cycles between periodic interrupts, 0: off
        self._next_periodic_ns: int | None = None
        self._last_update_ns = self._guest_ns(now)  # UF/AF evaluated up to this guest time

    # -- guest time -----------------------------------------------------------------------------
    def _guest_ns(self, now: int) -> int:
        return self._base_sec * NS_PER_SEC + (now - self._base_ns) + self._offset_ns

    def _running(self) -> bool:
        return not self.data[REG_B] & B_SET and (self.data[REG_A] & 0x70) <= 0x20

    def _divider_reset(self) -> bool:
        return (self.data[REG_A] & 0x60) == 0x60

    def _to_reg(self, value: int) -> int:
        return value if self.data[REG_B] & B_DM else ((value // 10) << 4) | (value % 10)

    def _from_reg(self, value: int) -> int:
        if self.data[REG_B] & B_DM:
            return value
        return (value >> 4) * 10 + (value & 0x0F)

    def _set_registers(self, epoch: int) -> None:
        """Store `epoch` (UTC seconds) into the time registers (QEMU's rtc_set_cmos)."""
        tm = time.gmtime(epoch)
        d = self.data
        d[SECONDS] = self._to_reg(tm.tm_sec)
        d[MINUTES] = self._to_reg(tm.tm_min)
        if d[REG_B] & B_24H:
            d[HOURS] = self._to_reg(tm.tm_hour)
        else:
            hour12 = tm.tm_hour % 12 or 12
            d[HOURS] = self._to_reg(hour12) | (0x80 if tm.tm_hour >= 12 else 0)
        d[DAY_OF_WEEK] = self._to_reg((tm.tm_wday + 1) % 7 + 1)  # Sunday is 1
        d[DAY_OF_MONTH] = self._to_reg(tm.tm_mday)
        d[MONTH] = self._to_reg(tm.tm_mon)
        d[YEAR] = self._to_reg(tm.tm_year % 100)
        d[CENTURY] = self._to_reg(tm.tm_year // 100)

    def _hour24(self, reg: int) -> int:
        hour = self._from_reg(reg & 0x7F)
        if not self.data[REG_B] & B_24H:
            hour %= 12
            if reg & 0x80:
                hour += 12
        return hour

    def _registers_epoch(self) -> int:
        """The time the registers hold, as UTC seconds (QEMU's rtc_get_time + mktimegm)."""
        d = self.data
        year = self._from_reg(d[YEAR]) + self._from_reg(d[CENTURY]) * 100
        month = self._from_reg(d[MONTH])
        day = self._from_reg(d[DAY_OF_MONTH])
        seconds = (
            self._hour24(d[HOURS]) * 3600 + self._from_reg(d[MINUTES]) * 60
            + self._from_reg(d[SECONDS])
        )
        # QEMU's mktimegm: a closed formula, so nonsense fields give a value, never an error.
        if month < 3:
            month += 12
            year -= 1
        days = day + (153 * month - 457) // 5 + 365 * year + year // 4 - year // 100
        days += year // 400 - 719469
        return days * SECONDS_PER_DAY + seconds

    def _rebase(self, now: int) -> None:
        """Take the time from the registers (QEMU's rtc_set_time)."""
        self._base_sec = self._registers_epoch()
        self._base_ns = now
        self._last_update_ns = self._guest_ns(now)

    def _refresh(self, now: int) -> None:
        """Bring the time registers up to date (QEMU's rtc_update_time)."""
        if not self.data[REG_B] & B_SET:
            self._set_registers(self._guest_ns(now) // NS_PER_SEC)

    # -- interrupts -----------------------------------------------------------------------------
    def _raise(self) -> None:
        self.data[REG_C] |= C_IRQF
        if self._irq is not None:
            self._irq(1)

    def _lower(self) -> None:
        if self._irq is not None:
            self._irq(0)

    def _periodic_update(self, now: int, old_period: int, period_change: bool) -> None:
        """QEMU's periodic_timer_update with the default lost-tick policy (discard)."""
        period = periodic_ticks(self.data[REG_A] & 0x0F) if self.data[REG_B] & B_PIE else 0
        self._period = period
        if not period:
            self._next_periodic_ns = None
            return
        cur = now * RTC_CLOCK_RATE // NS_PER_SEC
        lost = 0
        if old_period and period_change and self._next_periodic_ns is not None:
            last = self._next_periodic_ns * RTC_CLOCK_RATE // NS_PER_SEC - old_period
            lost = min(max(cur - last, 0), period)
        nxt = cur + period - lost
        self._next_periodic_ns = nxt * NS_PER_SEC // RTC_CLOCK_RATE + 1

    def _alarm_matches_in(self, start_ns: int, end_ns: int) -> bool:
        """Whether a second boundary in (start_ns, end_ns] of guest time matches the alarm."""
        first = start_ns // NS_PER_SEC + 1
        last = end_ns // NS_PER_SEC
        if last < first:
            return False
        if last - first >= SECONDS_PER_DAY:
            return True
        d = self.data
        wanted = []
        for reg, limit in ((HOURS_ALARM, 24), (MINUTES_ALARM, 60), (SECONDS_ALARM, 60)):
            value = d[reg]
            if value & DONT_CARE == DONT_CARE:
                wanted.append(range(limit))
            else:
                unit = self._hour24(value) if reg == HOURS_ALARM else self._from_reg(value)
                wanted.append(range(unit, unit + 1))
        hours, minutes, seconds = wanted
        t = first
        while t <= last:
            sod = t % SECONDS_PER_DAY
            h, m, s = sod // 3600, (sod // 60) % 60, sod % 60
            if h in hours and m in minutes and s in seconds:
                return True
            # Jump to the next second, minute or hour that could match.
            if h not in hours:
                t += 3600 - sod % 3600
            elif m not in minutes:
                t += 60 - sod % 60
            else:
                t += 1
        return False

    def _sync(self, now: int) -> None:
        """Apply every periodic and update-ended event up to `now`."""
        while self._next_periodic_ns is not None and self._next_periodic_ns <= now:
            when = self._next_periodic_ns
            behind = (now - when) * RTC_CLOCK_RATE // NS_PER_SEC
            if behind > 2 * self._period:
                # Far behind: the flags are sticky and the PIC coalesces, so skip ahead.
                when = now - self._period * NS_PER_SEC // RTC_CLOCK_RATE
            self._periodic_update(when, self._period, False)
            self.data[REG_C] |= C_PF
            if self.data[REG_B] & B_PIE:
                self._raise()
        if self._divider_reset():
            return
        guest = self._guest_ns(now)
        if guest // NS_PER_SEC > self._last_update_ns // NS_PER_SEC:
            flags = C_UF
            if not self.data[REG_B] & B_SET:
                self._refresh(now)
                if self._alarm_matches_in(self._last_update_ns, guest):
                    flags |= C_AF
            new = flags & ~self.data[REG_C]
            self.data[REG_C] |= flags
            if new & self.data[REG_B]:
                self._raise()
        self._last_update_ns = guest

    # -- the timer-event interface --------------------------------------------------------------
    def next_deadline_ns(self) -> int | None:
        """The next periodic interrupt, or the next second boundary while UIE or AIE is set."""
        deadlines = []
        if self._next_periodic_ns is not None:
            deadlines.append(self._next_periodic_ns)
        if self.data[REG_B] & (B_UIE | B_AIE) and not self._divider_reset():
            now = self._clock.now_ns()
            guest = self._guest_ns(now)
            deadlines.append(now + NS_PER_SEC - guest % NS_PER_SEC)
        return min(deadlines) if deadlines else None

    def tick(self, now_ns: int) -> None:
        """Raise the interrupts due at or before `now_ns`."""
        self._sync(now_ns)

    # -- registers ------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        """Read `size` bytes from port `offset` on, one port per byte."""
        value = 0
        for i in range(size):
            reg = offset + i
            # The index port is write-only (0xFF); bytes past 0x71 are not ours.
            byte = self._read_data() if reg == 1 else 0xFF
            value |= byte << (8 * i)
        return value

    def _read_data(self) -> int:
        now = self._clock.now_ns()
        self._sync(now)
        index = self.index
        if index == PS2_CENTURY:
            index = self.index = CENTURY
        if index in TIME_REGS:
            if self._running():
                self._refresh(now)
            return self.data[index]
        if index == REG_A:
            value = self.data[REG_A]
            frac = self._guest_ns(now) % NS_PER_SEC
            if self._running() and frac >= NS_PER_SEC - UIP_HOLD_NS:
                value |= A_UIP
            return value
        if index == REG_C:
            value = self.data[REG_C]
            self.data[REG_C] = 0
            self._lower()
            return value
        return self.data[index]

    def write(self, offset: int, size: int, value: int) -> None:
        """Write `size` bytes of `value` from port `offset` on, one port per byte."""
        for i in range(size):
            reg = offset + i
            byte = (value >> (8 * i)) & 0xFF
            if reg == 0:
                self.index = byte & 0x7F
                self.nmi_masked = bool(byte & 0x80)
            elif reg == 1:
                self._write_data(byte)

    def _write_data(self, value: int) -> None:
        now = self._clock.now_ns()
        self._sync(now)
        index = self.index
        if index == PS2_CENTURY:
            index = self.index = CENTURY
        d = self.data
        if index in TIME_REGS:
            d[index] = value
            if self._running():
                self._rebase(now)
        elif index == REG_A:
            self._write_a(value, now)
        elif index == REG_B:
            self._write_b(value, now)
        elif index in (REG_C, REG_D):
            pass  # read-only
        else:
            d[index] = value

    def _write_a(self, value: int, now: int) -> None:
        d = self.data
        rate_changed = bool((d[REG_A] ^ value) & 0x0F)
        old_period = self._period
        if (value & 0x60) == 0x60:
            if self._running():
                self._refresh(now)
        elif self._divider_reset() and (value & 0x70) <= 0x20 and not d[REG_B] & B_SET:
            # Leaving divider reset: the first update comes half a second later.
            self._offset_ns = NS_PER_SEC // 2
            self._rebase(now)
        d[REG_A] = value & ~A_UIP
        if rate_changed:
            self._periodic_update(now, old_period, True)

    def _write_b(self, value: int, now: int) -> None:
        d = self.data
        pie_changed = bool((d[REG_B] ^ value) & B_PIE)
        old_period = self._period
        if value & B_SET:
            if self._running():
                self._refresh(now)
            value &= ~B_UIE
        elif d[REG_B] & B_SET and (d[REG_A] & 0x70) <= 0x20:
            self._offset_ns = self._guest_ns(now) % NS_PER_SEC
            self._rebase(now)  # read in the old format, as QEMU does
        if value & d[REG_C] & C_MASK:
            self._raise()
        else:
            d[REG_C] &= ~C_IRQF
            self._lower()
        d[REG_B] = value
        if pie_changed:
            self._periodic_update(now, old_period, True)

    # -- state ----------------------------------------------------------------------------------
    def save(self) -> CmosState:
        """The CMOS bytes, the index and the RTC's time base (times on the machine's clock)."""
        return CmosState(
            data=bytes(self.data), index=self.index, nmi_masked=self.nmi_masked,
            base_sec=self._base_sec, base_ns=self._base_ns, offset_ns=self._offset_ns,
            period=self._period, next_periodic_ns=self._next_periodic_ns,
            last_update_ns=self._last_update_ns,
        )

    def restore(self, state: CmosState) -> None:
        """Take the state `save` returned; IRQ 8 is restored as it was, not re-driven."""
        state = check_record(state, CmosState, "cmos")
        require(len(state.data) == CMOS_SIZE, "cmos", f"{len(state.data)} bytes of CMOS")
        require_range("cmos", state, "index", 0, 0x7F)
        require(state.period in (0, *(periodic_ticks(r) for r in range(1, 16))), "cmos",
                f"periodic interval {state.period}")
        self.data[:] = state.data
        self.index, self.nmi_masked = state.index, state.nmi_masked
        self._base_sec, self._base_ns = state.base_sec, state.base_ns
        self._offset_ns, self._period = state.offset_ns, state.period
        self._next_periodic_ns = state.next_periodic_ns
        self._last_update_ns = state.last_update_ns
