"""The IOAPIC (bt/devices/ioapic.py) per the 82093AA datasheet and QEMU 7.2's pc wiring: its
registers, redirection entries, edge and level inputs, remote IRR and the EOI broadcast; the ISA
lines reaching both the 8259 pair and the IOAPIC (bt/devices/isairqs.py)."""

from __future__ import annotations

from bt.devices.ioapic import IoApic
from bt.devices.isairqs import IsaIrqs
from bt.devices.lapic import LocalApic
from bt.devices.pic8259 import PicPair
from bt.timebase import VirtualClock


class Bus:
    """The local APIC side: every message received."""

    def __init__(self) -> None:
        self.got: list[tuple[int, bool, int, int, bool]] = []

    def deliver_irq(self, dest: int, logical: bool, mode: int, vector: int, level: bool) -> None:
        self.got.append((dest, logical, mode, vector, level))


def _io(pic_vector: int = 0x20) -> tuple[IoApic, Bus]:
    bus = Bus()
    return IoApic(bus, lambda: pic_vector), bus


def _w(io: IoApic, reg: int, value: int) -> None:
    io.write(0x00, 4, reg)
    io.write(0x10, 4, value)


def _r(io: IoApic, reg: int) -> int:
    io.write(0x00, 4, reg)
    return io.read(0x10, 4)


def test_registers_after_reset() -> None:
    io, _ = _io()
    assert _r(io, 0) == 0 and _r(io, 1) == 0x00170020 and _r(io, 2) == 0
    assert all(_r(io, 0x10 + 2 * p) == 0x10000 and _r(io, 0x11 + 2 * p) == 0 for p in range(24))
    assert _r(io, 0x40) == 0  # beyond the table
    assert io.read(0x00, 4) == 0x40  # IOREGSEL reads back
    assert io.read(0x10, 2) == 0  # IOWIN: 32-bit only


def test_writable_bits() -> None:
    io, _ = _io()
    _w(io, 0, 0xFFFFFFFF)
    assert _r(io, 0) == 0x0F000000 and _r(io, 2) == 0x0F000000  # arbitration reads the ID
    _w(io, 1, 0)
    assert _r(io, 1) == 0x00170020
    _w(io, 0x10, 0xFFFFFFFF)
    assert _r(io, 0x10) == 0xFFFFAFFF  # delivery status and remote IRR are read-only
    _w(io, 0x11, 0xFFFFFFFF)
    assert _r(io, 0x11) == 0xFFFFFFFF
    io.write(0x00, 4, 0x1FF)
    assert io.read(0x00, 4) == 0xFF  # an 8-bit register
    assert io.read(0x100, 4) == 0xFF  # the page repeats every 256 bytes


def test_irq0_arrives_at_pin_2() -> None:
    io, bus = _io()
    _w(io, 0x15, 0x01000000)
    _w(io, 0x14, 0x60)
    io.set_irq(0, 1)
    assert bus.got == [(1, False, 0, 0x60, False)]
    io.set_irq(2, 0)
    io.set_irq(2, 1)  # pin 2 itself is the same input
    assert len(bus.got) == 2


def test_edges_on_a_masked_pin_are_dropped() -> None:
    io, bus = _io()
    io.set_irq(1, 1)  # masked: dropped, not latched
    _w(io, 0x12, 0x61)
    assert bus.got == []
    io.set_irq(1, 0)
    io.set_irq(1, 1)
    io.set_irq(1, 1)  # no new edge while high
    assert bus.got == [(0, False, 0, 0x61, False)]


def test_level_remote_irr_and_eoi() -> None:
    io, bus = _io()
    _w(io, 0x12, 0x8000 | 0x62)  # level, unmasked
    io.set_irq(1, 1)
    assert bus.got == [(0, False, 0, 0x62, True)]
    assert _r(io, 0x12) & 0x4000  # remote IRR
    io.set_irq(1, 1)
    assert len(bus.got) == 1  # in service: coalesced
    io.eoi_broadcast(0x62)  # the line still high: requested again at once
    assert len(bus.got) == 2 and _r(io, 0x12) & 0x4000
    io.set_irq(1, 0)
    io.eoi_broadcast(0x61)  # another vector: nothing
    assert _r(io, 0x12) & 0x4000
    io.write(0x40, 4, 0x62)  # the EOI register (version 0x20)
    assert not _r(io, 0x12) & 0x4000 and len(bus.got) == 2


def test_edge_mode_clears_remote_irr() -> None:
    io, _ = _io()
    _w(io, 0x12, 0x8000 | 0x62)
    io.set_irq(1, 1)
    _w(io, 0x12, 0x10000 | 0x62)  # masked and edge-triggered: Linux's way to clear it
    assert _r(io, 0x12) == 0x10062


def test_delivery_modes_and_destinations() -> None:
    io, bus = _io(pic_vector=0x08)
    _w(io, 0x13, 0xFF000000)
    _w(io, 0x12, 0x700 | 0x99)  # ExtINT: the 8259's vector
    io.set_irq(1, 1)
    _w(io, 0x17, 0x03000000)
    _w(io, 0x16, 0x800 | 0x400)  # NMI, logical destination 3
    io.set_irq(3, 1)
    _w(io, 0x18, 0)
    _w(io, 0x19, 0)
    _w(io, 0x18, 0x100 | 0x2000 | 0x71)  # lowest priority, active low (kept, not acted on)
    io.set_irq(4, 1)
    assert bus.got == [
        (0xFF, False, 7, 0x08, False),
        (3, True, 4, 0, False),
        (0, False, 1, 0x71, False),
    ]
    assert _r(io, 0x18) == 0x2171


def test_unmasking_a_level_pin_high_delivers() -> None:
    io, bus = _io()
    _w(io, 0x12, 0x18000 | 0x62)  # level, masked
    io.set_irq(1, 1)
    assert bus.got == []
    _w(io, 0x12, 0x8000 | 0x62)
    assert bus.got == [(0, False, 0, 0x62, True)]


def test_ioapic_into_the_local_apic() -> None:
    clock = VirtualClock()
    pics = PicPair()
    lapic = LocalApic(clock, pics, lambda: None)
    lapic.seabios_state()
    io = IoApic(lapic, pics.acknowledge)
    lapic.eoi_broadcast = io.eoi_broadcast
    isa = IsaIrqs(pics, io)
    for irq in range(16):
        pics.set_irq(irq, 0)
    pics.master.write(1, 1, 0xFF)  # 8259 masked
    _w(io, 0x12, 0x8000 | 0x62)
    isa.set_irq(1, 1)
    assert lapic.pending() and lapic.acknowledge() == 0x62
    isa.set_irq(1, 0)
    lapic.write(0xB0, 4, 0)  # EOI: broadcast, remote IRR clear
    assert not _r(io, 0x12) & 0x4000 and not lapic.pending()
    _w(io, 0x14, 0x60)
    isa.set_irq(0, 1)  # the PIT's line: pin 2 here, IRQ 0 on the 8259 (masked)
    assert lapic.acknowledge() == 0x60
    assert pics.master.irr & 1  # the 8259 saw it too


def test_unmasked_follows_the_entry_of_the_line() -> None:
    io, _ = _io()
    assert not io.unmasked(0) and not io.unmasked(1) and not io.unmasked(30)
    _w(io, 0x14, 0x60)
    _w(io, 0x12, 0x61)
    assert io.unmasked(0) and io.unmasked(1)  # IRQ 0 is pin 2's
