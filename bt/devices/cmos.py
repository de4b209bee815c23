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

The memory bytes and the register map are in bt.devices.cmos_layout, the calendar encoding in
bt.devices.rtc_calendar.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bt.devices.cmos_layout import (
    A_UIP,
    B_AIE,
    B_PIE,
    B_SET,
    B_UIE,
    C_AF,
    C_IRQF,
    C_MASK,
    C_PF,
    C_UF,
    CENTURY,
    CMOS_SIZE,
    PS2_CENTURY,
    REG_A,
    REG_B,
    REG_C,
    REG_D,
    TIME_REGS,
    initial_bytes,
)
from bt.devices.records import CmosState
from bt.devices.rtc_calendar import (
    NS_PER_SEC,
    alarm_matches_in,
    registers_epoch,
    set_registers,
)
from bt.staterecord import check_record, require, require_range

RTC_CLOCK_RATE = 32768
UIP_HOLD_NS = 8 * NS_PER_SEC // RTC_CLOCK_RATE  # UIP shows for the last 244 us of a second
DEFAULT_START_TIME = 946684800  # 2000-01-01 00:00:00 UTC: deterministic unless told otherwise


class Clock(Protocol):
    """Guest time (bt.timebase.Clock, restated: devices import nothing above bt.devices)."""

    def now_ns(self) -> int:
        """Nanoseconds of guest time."""
        ...


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
        self.data = initial_bytes(ram_size)
        self.index = 0
        self.nmi_masked = False
        now = clock.now_ns()
        # The guest RTC in ns is base_sec * 1e9 + (now - base_ns) + offset_ns (QEMU's scheme).
        self._base_sec = start_time
        self._base_ns = now
        self._offset_ns = 0
        set_registers(self.data, start_time)
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

    def _rebase(self, now: int) -> None:
        """Take the time from the registers (QEMU's rtc_set_time)."""
        self._base_sec = registers_epoch(self.data)
        self._base_ns = now
        self._last_update_ns = self._guest_ns(now)

    def _refresh(self, now: int) -> None:
        """Bring the time registers up to date (QEMU's rtc_update_time)."""
        if not self.data[REG_B] & B_SET:
            set_registers(self.data, self._guest_ns(now) // NS_PER_SEC)

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
                if alarm_matches_in(self.data, self._last_update_ns, guest):
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
            data=bytes(self.data),
            index=self.index,
            nmi_masked=self.nmi_masked,
            base_sec=self._base_sec,
            base_ns=self._base_ns,
            offset_ns=self._offset_ns,
            period=self._period,
            next_periodic_ns=self._next_periodic_ns,
            last_update_ns=self._last_update_ns,
        )

    def restore(self, state: CmosState) -> None:
        """Take the state `save` returned; IRQ 8 is restored as it was, not re-driven."""
        state = check_record(state, CmosState, "cmos")
        require(len(state.data) == CMOS_SIZE, "cmos", f"{len(state.data)} bytes of CMOS")
        require_range("cmos", state, "index", 0, 0x7F)
        require(
            state.period in (0, *(periodic_ticks(r) for r in range(1, 16))),
            "cmos",
            f"periodic interval {state.period}",
        )
        self.data[:] = state.data
        self.index, self.nmi_masked = state.index, state.nmi_masked
        self._base_sec, self._base_ns = state.base_sec, state.base_ns
        self._offset_ns, self._period = state.offset_ns, state.period
        self._next_periodic_ns = state.next_periodic_ns
        self._last_update_ns = state.last_update_ns
