"""Pit8254: the 8254 programmable interval timer at ports 0x40-0x43, and port 0x61's view of it.

The reference is QEMU 7.2's hw/timer/i8254.c, i8254_common.c and hw/audio/pcspk.c. Counts are
computed, never stepped: a channel remembers when its count was loaded and derives the counter,
its OUT pin and the next OUT transition from the Clock (1193182 Hz, d = elapsed ns * f / 1e9
rounded down), so the values are exact and reproducible on a VirtualClock.

As QEMU does (and where that differs from the datasheet):

- Mode 0: OUT low from the count load until the count expires, then high. Mode 1: OUT low for
  `count` ticks after a gate rising edge. Mode 2: the counter runs count..1 and reloads; OUT is
  high except for one tick per period. QEMU inverts this: its OUT reads *high* only at the
  reload tick (read-back status, port 0x61) and low otherwise. Its IRQ 0 line is driven at
  deadlines rounded down to the nanosecond, where the elapsed tick count is usually one short,
  so the line rises about one tick after each reload (count + 1, 2 * count + 1... ticks after
  the load) and falls a tick before the next: one rising edge per period, as the datasheet's
  OUT gives one. We keep QEMU's arithmetic so the edges fall on the same nanoseconds.
  Mode 3: the counter decrements by two (`count - (2d mod count)`), OUT high for the first
  ceil(count/2) ticks of each period. Modes 4 and 5: OUT high for exactly the tick `count`.
- The gate: a rising edge restarts modes 1, 2, 3 and 5; otherwise QEMU ignores it, so channel 2
  keeps counting in modes 0/2/3 with the gate low (the datasheet stops the count). Measured:
  mode 0 count 0x1234 with gate 0 read 0x1211 moments later.
- Writing the control word changes mode and access and resets the byte sequencing but does not
  reload the count or reschedule IRQ 0 (QEMU's "XXX: update irq timer?"); OUT goes on being
  computed with the new mode from the old load time. The count takes effect when written
  completely (the low byte alone in lobyte/hibyte mode does nothing).
- A count of 0 means 0x10000. BCD (control bit 0) is stored and reported in the status but the
  count runs in binary (QEMU: "XXX: add BCD"). The read-back status never sets NULL COUNT (bit 6;
  the datasheet sets it from a control or count write until the count is loaded).
- Counter latch: ignored while a latched value is unread. A latch command on a channel whose
  access mode was never set (rw 0) latches nothing, and reads return the live low byte (measured:
  two reads of never-programmed channel 1 gave 0xFA, 0xF8). Read-back: the status latch comes
  first; port 0x43 reads 0.
- IRQ 0 is the OUT level of channel 0, passed to `irq(level)` at each transition (and at each
  count load: loading mode 3 raises it at once, as in QEMU).

Port 0x61 (`SpeakerPort`, QEMU's pcspk): bit 0 channel-2 gate, bit 1 speaker data enable, bit 4 a
refresh bit that toggles on every read (first read 1), bit 5 channel 2's OUT. Writes set the gate
(bit 0) and data enable (bit 1); other bits are dropped.

State at Multiboot entry (measured): channel 0 mode 2, lobyte/hibyte, count 0x10000 (18.2 Hz,
read-back status 0x34); channels 1 and 2 untouched (mode 3, access 0, count 0x10000, status
0x06); gate 2 low; port 0x61 reads 0x10. `Pit8254(boot_state=True)` starts there with every
count loaded at time 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bt.devices.records import PitChannelState, PitState, SpeakerState
from bt.staterecord import check_record, require, require_range

NS_PER_SEC = 1_000_000_000


class Clock(Protocol):
    """Guest time (bt.timebase.Clock, restated: devices import nothing above bt.devices)."""

    def now_ns(self) -> int:
        """Nanoseconds of guest time."""
        ...


PIT_FREQ = 1_193_182
CHANNELS = 3
RW_LATCH, RW_LSB, RW_MSB, RW_WORD = 0, 1, 2, 3
WORD1 = 4  # read/write state: waiting for the high byte of a word
FULL_COUNT = 0x10000
FAST_FORWARD_PERIODS = 2  # periodic ticks further behind than this are skipped (the PIC coalesces)


class _Channel:
    """One counter: its programming and the time its count was loaded."""

    def __init__(self, gate: int) -> None:
        self.count = FULL_COUNT
        self.load_ns = 0
        self.mode = 3
        self.bcd = 0
        self.rw_mode = RW_LATCH
        self.read_state = RW_LATCH
        self.write_state = RW_LATCH
        self.write_latch = 0
        self.latched_count = 0
        self.count_latched = 0  # the rw mode of a pending count latch, 0: none
        self.status = 0
        self.status_latched = False
        self.gate = gate

    def ticks(self, now_ns: int) -> int:
        """PIT clock ticks since the count was loaded (QEMU's muldiv64, rounded down)."""
        return (now_ns - self.load_ns) * PIT_FREQ // NS_PER_SEC

    def time_of(self, ticks: int) -> int:
        """The first nanosecond at which `ticks` ticks have elapsed since the load."""
        return self.load_ns + -(-ticks * NS_PER_SEC // PIT_FREQ)

    def counter(self, now_ns: int) -> int:
        d = self.ticks(now_ns)
        if self.mode in (0, 1, 4, 5):
            return (self.count - d) & 0xFFFF
        if self.mode == 3:
            return self.count - (2 * d) % self.count
        return self.count - d % self.count

    def out(self, now_ns: int) -> int:
        d = self.ticks(now_ns)
        mode, count = self.mode, self.count
        if mode == 1:
            return int(d < count)
        if mode == 2:
            return int(d % count == 0 and d != 0)
        if mode == 3:
            return int(d % count < (count + 1) >> 1)
        if mode in (4, 5):
            return int(d == count)
        return int(d >= count)  # mode 0 (and 6, 7, which QEMU treats as 0 here)

    def next_transition(self, now_ns: int) -> int | None:
        """When to re-evaluate OUT after `now_ns`, or None (QEMU's pit_get_next_transition_time).

        QEMU rounds the tick time down to a nanosecond, so at the deadline the elapsed tick
        count is usually one short and the edge lands a tick later (mode 2: OUT rises about
        one tick after each reload and falls about a tick before the next). Kept as is: the
        interrupt times then match QEMU's on the same virtual time line.
        """
        d = self.ticks(now_ns)
        mode, count = self.mode, self.count
        if mode == 2:
            base = d - d % count
            nxt = base + count if d == base and d != 0 else base + count + 1
        elif mode == 3:
            base = d - d % count
            half = (count + 1) >> 1
            nxt = base + half if d - base < half else base + count
        elif mode in (4, 5):
            if d < count:
                nxt = count
            elif d == count:
                nxt = count + 1
            else:
                return None
        elif d < count:  # modes 0 and 1
            nxt = count
        else:
            return None
        # QEMU's conversion, rounding down, and its guard against a deadline in the past: the
        # level is then evaluated at that time, which is where QEMU's edges fall too.
        when = self.load_ns + nxt * NS_PER_SEC // PIT_FREQ
        return when if when > now_ns else now_ns + 1

    def save(self) -> PitChannelState:
        return PitChannelState(
            count=self.count, load_ns=self.load_ns, mode=self.mode, bcd=self.bcd,
            rw_mode=self.rw_mode, read_state=self.read_state, write_state=self.write_state,
            write_latch=self.write_latch, latched_count=self.latched_count,
            count_latched=self.count_latched, status=self.status,
            status_latched=self.status_latched, gate=self.gate,
        )

    def restore(self, st: PitChannelState) -> None:
        self.count, self.load_ns, self.mode, self.bcd = st.count, st.load_ns, st.mode, st.bcd
        self.rw_mode, self.read_state, self.write_state = st.rw_mode, st.read_state, st.write_state
        self.write_latch, self.latched_count = st.write_latch, st.latched_count
        self.count_latched, self.status = st.count_latched, st.status
        self.status_latched, self.gate = st.status_latched, st.gate


class Pit8254:
    """Three counters on a 1.193182 MHz clock; channel 0's OUT drives `irq(level)` (IRQ 0)."""

    def __init__(
        self,
        clock: Clock,
        irq: Callable[[int], None] | None = None,
        boot_state: bool = True,
    ) -> None:
        self._clock = clock
        self._irq = irq
        self._channels = [_Channel(gate=int(i != 2)) for i in range(CHANNELS)]
        now = clock.now_ns()
        for ch in self._channels:
            ch.load_ns = now
        self._irq_level = 0
        self._next_ns: int | None = None
        if boot_state:
            ch0 = self._channels[0]
            ch0.mode, ch0.rw_mode, ch0.read_state, ch0.write_state = 2, RW_WORD, RW_WORD, RW_WORD
        self._update_irq(now)
        self.speaker = SpeakerPort(self)

    # -- the timer-event interface --------------------------------------------------------------
    def next_deadline_ns(self) -> int | None:
        """When channel 0's OUT changes next (an IRQ 0 edge or its end)."""
        return self._next_ns

    def tick(self, now_ns: int) -> None:
        """Deliver every channel-0 transition up to `now_ns`."""
        ch = self._channels[0]
        while self._next_ns is not None and self._next_ns <= now_ns:
            when = self._next_ns
            if ch.mode in (2, 3):
                # Far behind: jump to the period before `now_ns`; only the last edges matter.
                d_now, d_when = ch.ticks(now_ns), ch.ticks(when)
                skip_to = d_now - d_now % ch.count - ch.count
                if skip_to - d_when > FAST_FORWARD_PERIODS * ch.count:
                    when = ch.time_of(skip_to)
            self._update_irq(when)

    def _update_irq(self, when_ns: int) -> None:
        """QEMU's pit_irq_timer_update for channel 0: drive the line, schedule the next change."""
        ch = self._channels[0]
        level = ch.out(when_ns)
        if level != self._irq_level:
            self._irq_level = level
            if self._irq is not None:
                self._irq(level)
        self._next_ns = ch.next_transition(when_ns)

    # -- the machine's side ---------------------------------------------------------------------
    def set_gate(self, channel: int, level: int) -> None:
        """Drive the GATE input of `channel` (channel 2's is port 0x61 bit 0)."""
        ch = self._channels[channel]
        if ch.mode in (1, 2, 3, 5) and ch.gate < level:
            ch.load_ns = self._clock.now_ns()  # a rising edge restarts the count
            if channel == 0:
                self._update_irq(ch.load_ns)
        ch.gate = level

    def gate(self, channel: int) -> int:
        """The GATE input of `channel`."""
        return self._channels[channel].gate

    def out(self, channel: int) -> int:
        """The OUT pin of `channel` now."""
        return self._channels[channel].out(self._clock.now_ns())

    # -- registers ------------------------------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        """Read `size` bytes from port `offset` on, one port per byte."""
        value = 0
        for i in range(size):
            reg = offset + i
            byte = self._read8(reg) if reg < 4 else 0xFF
            value |= byte << (8 * i)
        return value

    def _read8(self, reg: int) -> int:
        if reg == 3:
            return 0  # the control word register is write-only
        ch = self._channels[reg]
        if ch.status_latched:
            ch.status_latched = False
            return ch.status
        if ch.count_latched:
            if ch.count_latched == RW_MSB:
                ch.count_latched = 0
                return (ch.latched_count >> 8) & 0xFF
            if ch.count_latched == RW_WORD:
                ch.count_latched = RW_MSB  # the high byte comes next
            else:
                ch.count_latched = 0
            return ch.latched_count & 0xFF
        count = ch.counter(self._clock.now_ns())
        if ch.read_state == RW_MSB:
            return (count >> 8) & 0xFF
        if ch.read_state == RW_WORD:
            ch.read_state = WORD1
            return count & 0xFF
        if ch.read_state == WORD1:
            ch.read_state = RW_WORD
            return (count >> 8) & 0xFF
        return count & 0xFF  # RW_LSB, and rw mode 0 as QEMU

    def write(self, offset: int, size: int, value: int) -> None:
        """Write `size` bytes of `value` from port `offset` on, one port per byte."""
        for i in range(size):
            reg = offset + i
            if reg < 4:
                self._write8(reg, (value >> (8 * i)) & 0xFF)

    def _write8(self, reg: int, value: int) -> None:
        if reg == 3:
            self._control(value)
            return
        ch = self._channels[reg]
        if ch.write_state == RW_MSB:
            self._load(reg, value << 8)
        elif ch.write_state == RW_WORD:
            ch.write_latch = value
            ch.write_state = WORD1
        elif ch.write_state == WORD1:
            self._load(reg, ch.write_latch | (value << 8))
            ch.write_state = RW_WORD
        else:
            self._load(reg, value)  # RW_LSB, and rw mode 0 as QEMU

    def _control(self, value: int) -> None:
        select = value >> 6
        now = self._clock.now_ns()
        if select == 3:
            for index, ch in enumerate(self._channels):
                if not value & (2 << index):
                    continue
                if not value & 0x20:
                    self._latch(ch, now)
                if not value & 0x10 and not ch.status_latched:
                    ch.status = (ch.out(now) << 7) | (ch.rw_mode << 4) | (ch.mode << 1) | ch.bcd
                    ch.status_latched = True
            return
        ch = self._channels[select]
        access = (value >> 4) & 3
        if access == RW_LATCH:
            self._latch(ch, now)
            return
        ch.rw_mode = ch.read_state = ch.write_state = access
        ch.mode = (value >> 1) & 7
        ch.bcd = value & 1

    @staticmethod
    def _latch(ch: _Channel, now_ns: int) -> None:
        if not ch.count_latched:
            ch.latched_count = ch.counter(now_ns)
            ch.count_latched = ch.rw_mode

    def _load(self, index: int, count: int) -> None:
        ch = self._channels[index]
        ch.count = count or FULL_COUNT
        ch.load_ns = self._clock.now_ns()
        if index == 0:
            self._update_irq(ch.load_ns)

    # -- state ----------------------------------------------------------------------------------
    def save(self) -> PitState:
        """The PIT's state record, port 0x61's included."""
        return PitState(
            channels=tuple(ch.save() for ch in self._channels), irq_level=self._irq_level,
            next_ns=self._next_ns, speaker=self.speaker.save(),
        )

    def restore(self, state: PitState) -> None:
        """Take the state `save` returned; IRQ 0 is restored as it was, not re-driven."""
        state = check_record(state, PitState, "pit")
        require(len(state.channels) == CHANNELS, "pit", f"{len(state.channels)} channels")
        for i, saved in enumerate(state.channels):
            owner = f"pit channel {i}"
            require_range(owner, saved, "count", 1, FULL_COUNT)
            require_range(owner, saved, "mode", 0, 7)
            require_range(owner, saved, "rw_mode read_state write_state count_latched", 0, WORD1)
            require_range(owner, saved, "bcd gate", 0, 1)
            require_range(owner, saved, "write_latch status", 0, 0xFF)
            require_range(owner, saved, "latched_count", 0, 0xFFFF)
        require_range("pit", state, "irq_level", 0, 1)
        self.speaker.check(state.speaker)
        for ch, st in zip(self._channels, state.channels, strict=True):
            ch.restore(st)
        self._irq_level, self._next_ns = state.irq_level, state.next_ns
        self.speaker.restore(state.speaker)


class SpeakerPort:
    """Port 0x61 as QEMU's PC speaker answers it: channel 2's gate and OUT, a refresh toggle."""

    def __init__(self, pit: Pit8254) -> None:
        self._pit = pit
        self.data_on = 0
        self._refresh = 0

    def read(self, offset: int, size: int) -> int:
        """Read `size` bytes; only offset 0 is the port, the rest read 0xFF."""
        value = 0
        for i in range(size):
            byte = 0xFF
            if offset + i == 0:
                self._refresh ^= 0x10
                byte = self._pit.gate(2) | (self.data_on << 1) | self._refresh
                byte |= self._pit.out(2) << 5
            value |= byte << (8 * i)
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        """Bit 0: channel-2 gate; bit 1: speaker data enable."""
        if offset == 0:
            self.data_on = (value >> 1) & 1
            self._pit.set_gate(2, value & 1)

    def check(self, state: SpeakerState) -> SpeakerState:
        """`state` if port 0x61 can restore it, else StateError (nothing is changed)."""
        state = check_record(state, SpeakerState, "port61")
        require_range("port61", state, "data_on", 0, 1)
        require(state.refresh in (0, 0x10), "port61", f"refresh = {state.refresh:#x}")
        return state

    def save(self) -> SpeakerState:
        """Port 0x61's own bits (channel 2's gate and OUT are the PIT's)."""
        return SpeakerState(data_on=self.data_on, refresh=self._refresh)

    def restore(self, state: SpeakerState) -> None:
        """Take the state `save` returned."""
        state = self.check(state)
        self.data_on, self._refresh = state.data_on, state.refresh
