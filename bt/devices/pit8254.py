"""Pit8254: the 8254 programmable interval timer at ports 0x40-0x43, and port 0x61's view of it.

The reference is QEMU 7.2's hw/timer/i8254.c, i8254_common.c and hw/audio/pcspk.c. Counts are
computed, never stepped: a channel remembers when its count was loaded and derives the counter,
its OUT pin and the next OUT transition from the Clock (1193182 Hz, d = elapsed ns * f / 1e9
rounded down), so the values are exact and reproducible on a VirtualClock.

As QEMU does (and where that differs from the datasheet):

- The modes' counter and OUT arithmetic are bt/devices/pit_channel.py.
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

Port 0x61 (`SpeakerPort`, QEMU's pcspk) is bt/devices/port61.py.

State at Multiboot entry (measured): channel 0 mode 2, lobyte/hibyte, count 0x10000 (18.2 Hz,
read-back status 0x34); channels 1 and 2 untouched (mode 3, access 0, count 0x10000, status
0x06); gate 2 low; port 0x61 reads 0x10. `Pit8254(boot_state=True)` starts there with every
count loaded at time 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bt.devices.pit_channel import (
    CHANNELS,
    FULL_COUNT,
    RW_LATCH,
    RW_MSB,
    RW_WORD,
    WORD1,
    PitChannel,
)
from bt.devices.port61 import SpeakerPort
from bt.devices.records import PitState
from bt.staterecord import check_record, require, require_range


class Clock(Protocol):
    """Guest time (bt.timebase.Clock, restated: devices import nothing above bt.devices)."""

    def now_ns(self) -> int:
        """Nanoseconds of guest time."""
        ...


FAST_FORWARD_PERIODS = 2  # periodic ticks further behind than this are skipped (the PIC coalesces)


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
        self._channels = [PitChannel(gate=int(i != 2)) for i in range(CHANNELS)]
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
    def _latch(ch: PitChannel, now_ns: int) -> None:
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
            channels=tuple(ch.save() for ch in self._channels),
            irq_level=self._irq_level,
            next_ns=self._next_ns,
            speaker=self.speaker.save(),
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
