"""Unit tests of the 8254 on a virtual clock: counts, OUT, IRQ 0 edges, latches, port 0x61."""

from __future__ import annotations

from bt.devices.pit8254 import Pit8254
from bt.devices.pit_channel import PIT_FREQ
from bt.timebase import NS_PER_SEC, VirtualClock


def ns_of(ticks: int) -> int:
    """First ns at which `ticks` PIT ticks have elapsed (from a load at time 0)."""
    return -(-ticks * NS_PER_SEC // PIT_FREQ)


def qemu_ns(ticks: int) -> int:
    """QEMU's deadline for `ticks` ticks after a load at 0: rounded down."""
    return ticks * NS_PER_SEC // PIT_FREQ


def make(boot_state: bool = True) -> tuple[VirtualClock, Pit8254, list[tuple[int, int]]]:
    clock = VirtualClock()
    edges: list[tuple[int, int]] = []
    pit = Pit8254(clock, lambda level: edges.append((clock.now_ns(), level)), boot_state)
    return clock, pit, edges


def latch(pit: Pit8254, channel: int) -> int:
    pit.write(3, 1, channel << 6)
    lo = pit.read(channel, 1)
    return lo | (pit.read(channel, 1) << 8)


def status(pit: Pit8254, channel: int) -> int:
    pit.write(3, 1, 0xE0 | (2 << channel))
    return pit.read(channel, 1)


def load(pit: Pit8254, channel: int, count: int) -> None:
    """Low byte then high byte, as a driver writes a lobyte/hibyte count."""
    pit.write(channel, 1, count & 0xFF)
    pit.write(channel, 1, count >> 8)


def run_to(clock: VirtualClock, pit: Pit8254, when: int) -> None:
    """Advance like the run loop: stop at each deadline up to `when`."""
    while (deadline := pit.next_deadline_ns()) is not None and deadline <= when:
        clock.advance_to(deadline)
        pit.tick(deadline)
    clock.advance_to(when)


def test_boot_state_as_measured_under_qemu() -> None:
    clock, pit, _ = make()
    clock.advance(ns_of(40000))  # into the low half of channels 1 and 2's square wave
    assert status(pit, 0) == 0x34  # mode 2, lobyte/hibyte, OUT low
    assert status(pit, 1) == 0x06  # never programmed: mode 3, access 0
    assert status(pit, 2) == 0x06
    assert pit.gate(2) == 0
    assert pit.speaker.read(0, 1) == 0x10  # refresh toggled on, gate 0, OUT 2 low


def test_mode2_rate_generator_period_and_irq_edges() -> None:
    clock, pit, edges = make()
    pit.write(3, 1, 0x34)
    load(pit, 0, 1193)
    # QEMU rounds deadlines down, so OUT rises about a tick after each reload (its level reads
    # 1 only at the reload tick itself) and falls just before the next one.
    assert pit.next_deadline_ns() == qemu_ns(1194)
    run_to(clock, pit, ns_of(3 * 1193) + 2000)
    rising = [t for t, level in edges if level]
    assert rising == [qemu_ns(1194), qemu_ns(2387), qemu_ns(3580)]
    falling = [t for t, level in edges if not level]
    assert falling == [qemu_ns(2386), qemu_ns(3579)]
    periods = {b - a for a, b in zip(rising, rising[1:], strict=False)}
    assert all(abs(p - 999848) <= 1 for p in periods)  # 1193 ticks = 999.85 us


def test_mode2_counter_and_latch_at_given_times() -> None:
    clock, pit, _ = make()
    pit.write(3, 1, 0x34)
    load(pit, 0, 1000)
    clock.advance(ns_of(100))
    assert latch(pit, 0) == 900
    clock.advance_to(ns_of(1000))
    assert latch(pit, 0) == 1000  # reloaded
    clock.advance_to(ns_of(1999))
    assert latch(pit, 0) == 1


def test_latch_is_held_until_read_and_a_second_latch_is_ignored() -> None:
    clock, pit, _ = make()
    pit.write(3, 1, 0x34)
    load(pit, 0, 1000)
    clock.advance(ns_of(10))
    pit.write(3, 1, 0x00)
    clock.advance(ns_of(50))
    pit.write(3, 1, 0x00)  # ignored: the first latch is unread
    assert pit.read(0, 1) | (pit.read(0, 1) << 8) == 990
    assert latch(pit, 0) == 940


def test_mode3_square_wave_counts_by_two_and_out_is_half_high() -> None:
    clock, pit, _ = make()
    pit.write(3, 1, 0x36)
    load(pit, 0, 1000)
    assert pit.out(0) == 1
    clock.advance_to(ns_of(100))
    assert latch(pit, 0) == 800
    clock.advance_to(ns_of(499))
    assert pit.out(0) == 1
    clock.advance_to(ns_of(500))
    assert pit.out(0) == 0
    assert latch(pit, 0) == 1000
    clock.advance_to(ns_of(1000))
    assert pit.out(0) == 1


def test_mode3_irq_is_raised_at_load_and_every_period() -> None:
    clock, pit, edges = make()
    pit.write(3, 1, 0x36)
    load(pit, 0, 1000)
    assert edges == [(0, 1)]
    run_to(clock, pit, ns_of(2000))
    assert edges == [
        (0, 1),
        (qemu_ns(500) + 1, 0),
        (qemu_ns(1000) + 1, 1),
        (qemu_ns(1500) + 1, 0),
        (qemu_ns(2000) + 1, 1),
    ]


def test_mode0_interrupt_on_terminal_count() -> None:
    clock, pit, edges = make()
    pit.write(3, 1, 0x30)
    pit.write(0, 1, 0x00)  # the count loads only with its high byte
    pit.write(0, 1, 0x01)  # count 0x0100
    assert status(pit, 0) == 0x30  # OUT low while counting
    run_to(clock, pit, ns_of(0x200))
    assert [level for _, level in edges] == [1]
    assert ns_of(0x100) <= edges[0][0] <= ns_of(0x101)
    assert pit.next_deadline_ns() is None
    assert status(pit, 0) == 0xB0
    assert latch(pit, 0) == (0x100 - 0x200) & 0xFFFF  # keeps counting down, wrapping


def test_lobyte_and_hibyte_only_access() -> None:
    clock, pit, _ = make()
    pit.write(3, 1, 0x54)  # channel 1, lobyte only, mode 2
    pit.write(1, 1, 0x80)
    clock.advance(ns_of(0x10))
    assert pit.read(1, 1) == 0x70
    pit.write(3, 1, 0x64)  # hibyte only
    pit.write(1, 1, 0x02)
    clock.advance(ns_of(1))
    assert pit.read(1, 1) == 0x01  # 0x0200 - 1 = 0x01FF: the high byte


def test_read_back_status_comes_before_the_count() -> None:
    clock, pit, _ = make()
    pit.write(3, 1, 0xB6)  # channel 2, lobyte/hibyte, mode 3
    load(pit, 2, 0x1000)
    clock.advance(ns_of(16))
    pit.write(3, 1, 0xC8)  # read-back channel 2: count and status
    assert pit.read(2, 1) == 0xB6
    assert pit.read(2, 1) | (pit.read(2, 1) << 8) == 0x1000 - 32


def test_never_programmed_channel_reads_the_live_low_byte() -> None:
    clock, pit, _ = make()
    clock.advance(ns_of(3))
    pit.write(3, 1, 0xDE)  # latch counts of all channels: no effect with access mode 0
    first = pit.read(1, 1)
    clock.advance(ns_of(4) - ns_of(3))
    assert (first, pit.read(1, 1)) == (0xFA, 0xF8)  # as measured: 0x10000 - 2*3, - 2*4


def test_port61_gate_restarts_channel2_and_shows_out() -> None:
    clock, pit, _ = make()
    speaker = pit.speaker
    pit.write(3, 1, 0xB6)
    load(pit, 2, 100)
    clock.advance(ns_of(70))
    assert speaker.read(0, 1) == 0x10  # OUT low in the second half, gate 0
    speaker.write(0, 1, 0x03)  # gate rising edge: restart
    assert pit.gate(2) == 1
    value = speaker.read(0, 1)
    assert value == 0x23  # refresh toggled back off, OUT high, data on, gate on
    assert latch(pit, 2) == 100


def test_gate_low_does_not_stop_mode0_as_in_qemu() -> None:
    clock, pit, _ = make()
    pit.write(3, 1, 0xB0)
    load(pit, 2, 0x1234)
    clock.advance(ns_of(0x23))
    assert latch(pit, 2) == 0x1211


def test_tick_far_behind_skips_to_the_latest_periods() -> None:
    clock, pit, edges = make()
    pit.write(3, 1, 0x34)
    load(pit, 0, 2)
    far = NS_PER_SEC
    clock.advance_to(far)
    pit.tick(far)
    assert len(edges) < 10
    assert edges[-1][1] in (0, 1)
    deadline = pit.next_deadline_ns()
    assert deadline is not None and deadline > far
