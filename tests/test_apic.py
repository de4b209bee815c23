"""The local APIC (bt/devices/lapic.py) per the Intel SDM vol. 3 ch. 10, and QEMU 7.2 where
QEMU, the reference, differs (ESR, SVR, the 8259 behind LINT0): registers, priorities, EOI,
IPIs, the LVT entries and the timer on a virtual clock."""

from __future__ import annotations

import pytest

from bt.devices.lapic import LocalApic
from bt.devices.lapic_timer import count_shift
from bt.timebase import VirtualClock


class FakePic:
    """An 8259 pair's INTR and INTA."""

    def __init__(self) -> None:
        self.vector: int | None = None
        self.acks = 0

    def pending(self) -> bool:
        return self.vector is not None

    def acknowledge(self) -> int:
        self.acks += 1
        vector, self.vector = self.vector, None
        return 0x0F if vector is None else vector


class Box:
    def __init__(self, seabios: bool = True) -> None:
        self.clock = VirtualClock()
        self.pic = FakePic()
        self.nmis = 0
        self.eois: list[int] = []
        self.apic = LocalApic(self.clock, self.pic, self._nmi, self.eois.append)
        if seabios:
            self.apic.seabios_state()

    def _nmi(self) -> None:
        self.nmis += 1

    def r(self, off: int) -> int:
        return self.apic.read(off, 4)

    def w(self, off: int, value: int) -> None:
        self.apic.write(off, 4, value)

    def take(self) -> int | None:
        """The vector the CPU would take now (None: INTR not asserted)."""
        return self.apic.acknowledge() if self.apic.pending() else None


def test_reset_state_is_qemus() -> None:
    b = Box(seabios=False)
    assert b.r(0x20) == 0 and b.r(0x30) == 0x00050014
    assert b.r(0x80) == b.r(0x90) == b.r(0xA0) == 0
    assert b.r(0xD0) == 0 and b.r(0xE0) == 0xFFFFFFFF and b.r(0xF0) == 0xFF
    assert [b.r(0x320 + 0x10 * i) for i in range(6)] == [0x10000] * 3 + [0x700] + [0x10000] * 2
    assert b.r(0x380) == b.r(0x390) == b.r(0x3E0) == 0
    assert all(b.r(0x100 + 0x10 * i) == 0 for i in range(24))


def test_seabios_state() -> None:
    b = Box()
    assert b.r(0xF0) == 0x1FF and b.r(0x350) == 0x8700 and b.r(0x360) == 0x8400
    assert b.r(0x300) == 0x000C4610


def test_narrow_accesses_and_holes() -> None:
    b = Box()
    assert b.apic.read(0x30, 1) == 0 and b.apic.read(0x30, 2) == 0
    b.apic.write(0x80, 1, 0x50)
    assert b.r(0x80) == 0
    assert b.r(0x34) == 0x00050014  # the low four offset bits do not matter
    assert b.r(0x1030) == 0x00050014  # the page repeats in QEMU's 1 MiB
    assert b.r(0x3F0) == 0 and b.r(0x280) == 0x80  # illegal register address
    b.w(0x280, 0)
    assert b.r(0x280) == 0x80  # QEMU: ESR writes are ignored, its bits never clear


def test_register_widths() -> None:
    b = Box()
    b.w(0x80, 0xFFFFFFFF)
    assert b.r(0x80) == 0xFF
    b.w(0xD0, 0xFFFFFFFF)
    assert b.r(0xD0) == 0xFF000000
    b.w(0xE0, 0x0FFFFFFF)
    assert b.r(0xE0) == 0x0FFFFFFF
    b.w(0xF0, 0xFFFFFFFF)
    assert b.r(0xF0) == 0x1FF
    b.w(0x3E0, 0xFFFFFFFF)
    assert b.r(0x3E0) == 0xB
    b.w(0x30, 0)
    assert b.r(0x30) == 0x00050014
    b.w(0x20, 0x05000000)
    assert b.r(0x20) == 0x05000000


def test_self_ipi_priority_and_eoi() -> None:
    b = Box()
    b.w(0x80, 0x50)
    b.w(0x300, 0x40041)  # self, fixed, vector 0x41
    assert b.r(0xA0) == 0x50
    assert b.take() is None  # class 4 <= TPR class 5
    assert b.r(0x220) == 0x2  # IRR: vector 0x41
    b.w(0x80, 0x40)
    assert b.take() is None  # equal class: still held
    b.w(0x80, 0x3F)
    assert b.take() == 0x41
    assert b.r(0x220) == 0 and b.r(0x120) == 0x2  # IRR -> ISR
    assert b.r(0xA0) == 0x40  # PPR: the class in service
    b.w(0x300, 0x40042)
    assert b.take() is None  # same class as the one in service
    b.w(0x300, 0x40051)
    assert b.take() == 0x51  # a higher class nests
    b.w(0xB0, 0)  # EOI: the highest in service
    assert b.r(0x150) == 0 and b.r(0x120) == 0x2
    b.w(0xB0, 0)
    assert b.take() == 0x42
    assert b.eois == []  # edge-triggered: no broadcast


def test_level_eoi_broadcasts() -> None:
    b = Box()
    b.apic.deliver_irq(0, False, 0, 0x62, True)
    assert b.r(0x230) == 0x4  # TMR set for a level-triggered request
    assert b.take() == 0x62
    b.w(0xB0, 0)
    assert b.eois == [0x62]
    assert b.r(0x1B0) == 0x4  # TMR stays until the vector is requested again (QEMU)
    b.apic.deliver_irq(0, False, 0, 0x62, False)
    assert b.r(0x1B0) == 0


@pytest.mark.parametrize(
    ("icr_lo", "icr_hi", "taken"),
    [
        (0x00040041, 0, True),  # shorthand self
        (0x00080041, 0, True),  # all including self
        (0x000C0041, 0, False),  # all excluding self: nobody
        (0x00000041, 0, True),  # physical destination 0 (this APIC)
        (0x00000041, 0xFF000000, True),  # physical broadcast
        (0x00000041, 0x03000000, False),  # physical 3: absent
        (0x00000941, 0x01000000, True),  # lowest priority, logical 1 (flat, LDR 1)
        (0x00000841, 0x02000000, False),  # logical 2
    ],
)
def test_ipi_destinations(icr_lo: int, icr_hi: int, taken: bool) -> None:
    b = Box()
    b.w(0xD0, 0x01000000)
    b.w(0x310, icr_hi)
    b.w(0x300, icr_lo)
    assert b.r(0x300) == icr_lo  # ICR reads back as written (no delivery status)
    assert (b.take() == 0x41) is taken


def test_cluster_logical_destination() -> None:
    b = Box()
    b.w(0xE0, 0x0FFFFFFF)  # cluster model
    b.w(0xD0, 0x21000000)  # cluster 2, member bit 0
    b.w(0x310, 0x21000000)
    b.w(0x300, 0x841)
    assert b.take() == 0x41
    b.w(0xB0, 0)
    b.w(0x310, 0x11000000)  # cluster 1
    b.w(0x300, 0x841)
    assert b.take() is None


def test_nmi_init_sipi() -> None:
    b = Box()
    b.w(0x300, 0x00040400)  # NMI to self
    assert b.nmis == 1 and b.take() is None
    b.w(0x300, 0x000C4500)  # INIT to the others: none
    b.w(0x300, 0x000C4610)  # SIPI to the others
    b.w(0x300, 0x00044500)  # INIT to self: not modelled, no effect
    assert b.nmis == 1 and b.take() is None and b.r(0x200 + 0x10 * 0) == 0
    b.w(0x20, 0x03000000)
    b.w(0x300, 0x00088500)  # INIT level de-assert: copies the arbitration ID
    assert b.apic.arb_id == 3


def test_software_disable_holds_requests() -> None:
    b = Box()
    b.w(0xF0, 0xEF)
    b.w(0x300, 0x40041)
    assert b.take() is None and b.r(0x220) == 0x2
    assert b.r(0x320) == 0x10000  # QEMU does not mask the LVT entries
    b.w(0xF0, 0x1EF)
    assert b.take() == 0x41


def test_spurious_vector_when_ppr_rises_before_inta() -> None:
    b = Box()
    b.w(0xF0, 0x1EF)
    b.w(0x300, 0x40041)
    assert b.apic.pending()
    b.w(0x80, 0x50)  # TPR raised between INTR and INTA
    assert b.apic.acknowledge() == 0xEF
    assert b.r(0x120) == 0 and b.r(0x220) == 0x2  # ISR untouched, still requested


def test_lint0_extint_passes_the_8259() -> None:
    b = Box()
    b.pic.vector = 0x08
    b.w(0x300, 0x40041)
    assert b.take() == 0x08  # the 8259 first (QEMU's cpu_get_pic_interrupt)
    assert b.take() == 0x41
    b.w(0x350, 0x18700)  # LINT0 masked: the 8259 no longer reaches the CPU
    b.pic.vector = 0x09
    assert b.take() is None
    b.apic.set_base(0xFEE00100)  # globally disabled: passed through again, as on a PC
    assert b.take() == 0x09
    assert b.r(0xF0) & 0x100 == 0  # SVR's enable cleared with it


def test_software_disabled_apic_still_passes_the_8259() -> None:
    b = Box()
    b.w(0xF0, 0xFF)
    b.pic.vector = 0x20
    assert b.take() == 0x20


def test_lint1_nmi_and_fixed_lint() -> None:
    b = Box()
    b.apic.external_nmi()
    assert b.nmis == 1  # SeaBIOS's LINT1: NMI, unmasked
    b.w(0x360, 0x18400)
    b.apic.external_nmi()
    assert b.nmis == 1
    b.w(0x360, 0x8055)  # fixed, level: TMR set
    b.apic.external_nmi()
    assert b.take() == 0x55 and b.r(0x1A0) == 1 << (0x55 - 64)


def test_msi_write() -> None:
    b = Box()
    b.w(0x0000, 0x4061)  # offset 0: an MSI to APIC 0, fixed, level (bit 15 clear: edge)
    assert b.take() == 0x61
    b.w(0xB0, 0)
    b.w(0x1000, 0x8063)  # beyond the first page: dest (1000 >> 12) = 1: nobody
    assert b.take() is None


def test_divide_shift() -> None:
    assert [1 << count_shift(v) for v in (0, 1, 2, 3, 8, 9, 10, 11)] == [
        2,
        4,
        8,
        16,
        32,
        64,
        128,
        1,
    ]


def test_timer_one_shot() -> None:
    b = Box()
    b.w(0x3E0, 0x3)  # divide by 16
    b.w(0x320, 0x40)
    b.w(0x380, 100)
    t = b.apic.timer
    assert t.next_deadline_ns() == 101 * 16  # N + 1 steps, as QEMU
    b.clock.advance(16 * 10)
    assert b.r(0x390) == 90
    t.tick(b.clock.now_ns())
    assert b.take() is None
    b.clock.advance_to(101 * 16)
    t.tick(b.clock.now_ns())
    assert b.take() == 0x40 and b.r(0x390) == 0
    assert t.next_deadline_ns() is None


def test_timer_periodic_and_mask() -> None:
    b = Box()
    b.w(0x3E0, 0xB)  # divide by 1
    b.w(0x320, 0x20040)
    b.w(0x380, 999)
    t = b.apic.timer
    for n in range(1, 4):
        assert t.next_deadline_ns() == 1000 * n
        b.clock.advance_to(1000 * n)
        t.tick(b.clock.now_ns())
        assert b.take() == 0x40
        b.w(0xB0, 0)
    b.clock.advance(250)
    assert b.r(0x390) == 999 - 250
    b.clock.advance(10_000)  # far behind: one interrupt, the next period after now
    t.tick(b.clock.now_ns())
    assert b.take() == 0x40 and t.next_deadline_ns() == 14_000
    b.w(0xB0, 0)
    b.w(0x320, 0x30040)  # masked: nothing scheduled
    assert t.next_deadline_ns() is None


def test_timer_needs_a_count_and_an_unmasked_entry() -> None:
    b = Box()
    b.w(0x320, 0x20040)
    assert b.apic.timer.next_deadline_ns() is None  # periodic with count 0
    b.w(0x320, 0x10040)
    b.w(0x380, 10)
    assert b.apic.timer.next_deadline_ns() is None
    b.w(0x320, 0x40)  # unmasked while counting: scheduled from the load
    assert b.apic.timer.next_deadline_ns() == 11 * 2


def test_timer_nmi_delivery_mode() -> None:
    b = Box()
    b.w(0x3E0, 0xB)
    b.w(0x320, 0x440)  # QEMU honours a delivery mode in the timer entry
    b.w(0x380, 5)
    b.clock.advance_to(6)
    b.apic.timer.tick(6)
    assert b.nmis == 1 and b.take() is None
