"""PitChannel: one 8254 counter, its count, OUT pin and next OUT transition derived from the Clock.

Counts are computed, never stepped: a channel remembers when its count was loaded and derives
the counter, its OUT pin and the next OUT transition from the Clock (1193182 Hz, d = elapsed
ns * f / 1e9 rounded down), so the values are exact and reproducible on a VirtualClock. As QEMU
7.2's hw/timer/i8254.c does:

Mode 0: OUT low from the count load until the count expires, then high. Mode 1: OUT low for
`count` ticks after a gate rising edge. Mode 2: the counter runs count..1 and reloads; OUT is
high except for one tick per period. QEMU inverts this: its OUT reads *high* only at the
reload tick (read-back status, port 0x61) and low otherwise. Its IRQ 0 line is driven at
deadlines rounded down to the nanosecond, where the elapsed tick count is usually one short,
so the line rises about one tick after each reload (count + 1, 2 * count + 1... ticks after
the load) and falls a tick before the next: one rising edge per period, as the datasheet's
OUT gives one. We keep QEMU's arithmetic so the edges fall on the same nanoseconds.
Mode 3: the counter decrements by two (`count - (2d mod count)`), OUT high for the first
ceil(count/2) ticks of each period. Modes 4 and 5: OUT high for exactly the tick `count`.
"""

from __future__ import annotations

from bt.devices.records import PitChannelState

NS_PER_SEC = 1_000_000_000
PIT_FREQ = 1_193_182
CHANNELS = 3
RW_LATCH, RW_LSB, RW_MSB, RW_WORD = 0, 1, 2, 3
WORD1 = 4  # read/write state: waiting for the high byte of a word
FULL_COUNT = 0x10000


class PitChannel:
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
            count=self.count,
            load_ns=self.load_ns,
            mode=self.mode,
            bcd=self.bcd,
            rw_mode=self.rw_mode,
            read_state=self.read_state,
            write_state=self.write_state,
            write_latch=self.write_latch,
            latched_count=self.latched_count,
            count_latched=self.count_latched,
            status=self.status,
            status_latched=self.status_latched,
            gate=self.gate,
        )

    def restore(self, st: PitChannelState) -> None:
        self.count, self.load_ns, self.mode, self.bcd = st.count, st.load_ns, st.mode, st.bcd
        self.rw_mode, self.read_state, self.write_state = st.rw_mode, st.read_state, st.write_state
        self.write_latch, self.latched_count = st.write_latch, st.latched_count
        self.count_latched, self.status = st.count_latched, st.status
        self.status_latched, self.gate = st.status_latched, st.gate
