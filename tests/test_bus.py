"""Bus routing: offsets into the device's range, overlap refusal, unclaimed accesses, sizes."""

from __future__ import annotations

import pytest

from bt.bus import Bus, BusRange
from bt.errors import InternalError


class Recorder:
    """A device that logs accesses and answers a fixed 32-bit value."""

    def __init__(self, answer: int = 0x12345678) -> None:
        self.answer = answer
        self.log: list[tuple[str, int, int, int]] = []

    def read(self, offset: int, size: int) -> int:
        self.log.append(("r", offset, size, 0))
        return self.answer

    def write(self, offset: int, size: int, value: int) -> None:
        self.log.append(("w", offset, size, value))


def test_devices_see_offsets_into_their_range() -> None:
    bus, com1, kbd = Bus(), Recorder(), Recorder()
    bus.register(0x3F8, 8, com1, "com1")
    bus.register(0x60, 1, kbd, "kbd")
    bus.read(0x3F8, 1)
    bus.read(0x3FF, 1)
    bus.write(0x3FA, 1, 0xC7)
    bus.read(0x60, 1)
    assert com1.log == [("r", 0, 1, 0), ("r", 7, 1, 0), ("w", 2, 1, 0xC7)]
    assert kbd.log == [("r", 0, 1, 0)]


@pytest.mark.parametrize(("size", "expected"), [(1, 0x78), (2, 0x5678), (4, 0x12345678)])
def test_reads_are_masked_to_the_access_size(size: int, expected: int) -> None:
    bus = Bus()
    bus.register(0x100, 4, Recorder(), "dev")
    assert bus.read(0x100, size) == expected


@pytest.mark.parametrize(("size", "expected"), [(1, 0xEF), (2, 0xCDEF), (4, 0x89ABCDEF)])
def test_writes_are_masked_to_the_access_size(size: int, expected: int) -> None:
    bus, dev = Bus(), Recorder()
    bus.register(0x100, 4, dev, "dev")
    bus.write(0x100, size, 0x1234567_89ABCDEF)
    assert dev.log == [("w", 0, size, expected)]


@pytest.mark.parametrize(("size", "expected"), [(1, 0xFF), (2, 0xFFFF), (4, 0xFFFFFFFF)])
def test_unclaimed_reads_are_all_ones(size: int, expected: int) -> None:
    bus = Bus()
    bus.register(0x60, 1, Recorder(), "kbd")
    assert bus.read(0x61, size) == expected
    assert bus.read(0x5F, size) == expected


def test_unclaimed_writes_are_dropped_and_counted() -> None:
    bus, dev = Bus(), Recorder()
    bus.register(0x60, 1, dev, "kbd")
    bus.write(0x80, 1, 0)  # the POST port: nothing there
    bus.read(0x80, 1)
    bus.read(0x60, 1)
    bus.write(0x60, 1, 1)
    assert dev.log == [("r", 0, 1, 0), ("w", 0, 1, 1)]
    stats = bus.stats()
    assert (stats.reads, stats.writes, stats.unclaimed) == (1, 1, 2)


def test_access_starting_in_range_goes_to_the_device_whole() -> None:
    bus, dev = Bus(), Recorder()
    bus.register(0x3F8, 8, dev, "com1")
    bus.read(0x3FF, 2)  # the device decides what its bytes past the end read as
    assert dev.log == [("r", 7, 2, 0)]


def test_overlapping_ranges_are_refused() -> None:
    bus = Bus()
    bus.register(0x60, 1, Recorder(), "kbd")
    bus.register(0x64, 1, Recorder(), "kbd-status")
    bus.register(0x3F8, 8, Recorder(), "com1")
    for base, length in [(0x5F, 2), (0x64, 1), (0x60, 5), (0x3F0, 9), (0x3FF, 1), (0x3F0, 0x20)]:
        with pytest.raises(InternalError):
            bus.register(base, length, Recorder(), "clash")
    bus.register(0x61, 3, Recorder(), "between")  # touching ranges are fine
    bus.register(0x3F0, 8, Recorder(), "below-com1")
    assert [r.name for r in bus.ranges()] == [
        "kbd",
        "between",
        "kbd-status",
        "below-com1",
        "com1",
    ]


def test_empty_range_is_refused() -> None:
    with pytest.raises(InternalError):
        Bus().register(0x60, 0, Recorder(), "empty")


def test_ranges_in_address_order() -> None:
    bus = Bus()
    bus.register(0xF4, 4, Recorder(), "isa-debug-exit")
    bus.register(0xE9, 1, Recorder(), "debugcon")
    assert bus.ranges() == [BusRange(0xE9, 1, "debugcon"), BusRange(0xF4, 4, "isa-debug-exit")]
