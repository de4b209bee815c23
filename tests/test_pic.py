"""Unit tests of the 8259A pair against the datasheet and QEMU 7.2 (measured where noted)."""

from __future__ import annotations

from bt.devices.pic8259 import PicPair


def init(pics: PicPair, master_base: int = 0x20, slave_base: int = 0x28, icw4: int = 0x01) -> None:
    """The usual ICW1-ICW4 sequence on both chips, then all lines unmasked."""
    for chip, base, icw3 in ((pics.master, master_base, 4), (pics.slave, slave_base, 2)):
        chip.write(0, 1, 0x11)
        chip.write(1, 1, base)
        chip.write(1, 1, icw3)
        chip.write(1, 1, icw4)


def isr(pics: PicPair, slave: bool = False) -> int:
    chip = pics.slave if slave else pics.master
    chip.write(0, 1, 0x0B)
    value = chip.read(0, 1)
    chip.write(0, 1, 0x0A)
    return value


def irr(pics: PicPair, slave: bool = False) -> int:
    chip = pics.slave if slave else pics.master
    chip.write(0, 1, 0x0A)
    return chip.read(0, 1)


def test_boot_state_as_measured_under_qemu() -> None:
    pics = PicPair()
    assert pics.master.read(1, 1) == 0xB8
    assert pics.slave.read(1, 1) == 0x8E
    assert pics.elcr.read(0, 1) == 0x00
    assert pics.elcr.read(1, 1) == 0x0C
    assert pics.master.read(0, 1) == 0x00  # IRR selected, nothing latched
    pics.raise_irq(0)
    assert pics.pending()
    assert pics.acknowledge() == 0x08  # SeaBIOS's vector base
    pics.master.write(0, 1, 0x20)
    pics.raise_irq(8)
    assert pics.acknowledge() == 0x70


def test_icw1_clears_imr_and_edge_requests() -> None:
    pics = PicPair()
    pics.raise_irq(0)
    init(pics)
    assert pics.master.read(1, 1) == 0x00
    assert irr(pics) == 0
    assert not pics.pending()


def test_masking_keeps_the_request_in_irr() -> None:
    pics = PicPair(boot_state=False)
    init(pics)
    pics.master.write(1, 1, 0x01)
    pics.raise_irq(0)
    assert not pics.pending()
    assert irr(pics) == 0x01
    pics.master.write(1, 1, 0x00)
    assert pics.pending()
    assert pics.acknowledge() == 0x20
    assert isr(pics) == 0x01
    assert irr(pics) == 0x00


def test_priority_nesting_and_non_specific_eoi() -> None:
    pics = PicPair(boot_state=False)
    init(pics)
    pics.raise_irq(3)
    pics.raise_irq(1)
    assert pics.acknowledge() == 0x21  # IRQ 1 beats IRQ 3
    assert not pics.pending()  # IRQ 3 waits behind IRQ 1 in service
    pics.raise_irq(0)
    assert pics.pending()  # but IRQ 0 nests
    assert pics.acknowledge() == 0x20
    assert isr(pics) == 0x03
    pics.master.write(0, 1, 0x20)  # EOI clears the highest in service: IRQ 0
    assert isr(pics) == 0x02
    assert not pics.pending()
    pics.master.write(0, 1, 0x20)
    assert pics.acknowledge() == 0x23


def test_specific_eoi() -> None:
    pics = PicPair(boot_state=False)
    init(pics)
    pics.raise_irq(5)
    pics.acknowledge()
    pics.raise_irq(4)
    pics.acknowledge()
    assert isr(pics) == 0x30
    pics.master.write(0, 1, 0x65)  # specific EOI for IRQ 5
    assert isr(pics) == 0x10


def test_set_priority_rotates_the_order() -> None:
    pics = PicPair(boot_state=False)
    init(pics)
    pics.master.write(0, 1, 0xC4)  # IRQ 4 lowest, so IRQ 5 highest
    pics.raise_irq(1)
    pics.raise_irq(6)
    assert pics.acknowledge() == 0x26
    pics.master.write(0, 1, 0xA0)  # rotate on non-specific EOI: IRQ 6 becomes lowest
    assert pics.acknowledge() == 0x21


def test_cascade_through_irq2() -> None:
    pics = PicPair(boot_state=False)
    init(pics)
    pics.raise_irq(9)
    assert pics.pending()
    assert pics.acknowledge() == 0x29
    assert isr(pics) == 0x04
    assert isr(pics, slave=True) == 0x02
    pics.lower_irq(9)
    pics.slave.write(0, 1, 0x20)
    pics.master.write(0, 1, 0x20)
    assert isr(pics) == 0 and isr(pics, slave=True) == 0


def test_spurious_irq7_when_the_request_is_masked_before_inta() -> None:
    pics = PicPair(boot_state=False)
    init(pics)
    pics.raise_irq(0)
    assert pics.pending()
    pics.master.write(1, 1, 0x01)
    assert pics.acknowledge() == 0x27
    assert isr(pics) == 0x00


def test_spurious_irq7_when_a_level_line_drops_before_inta() -> None:
    pics = PicPair(boot_state=False)
    init(pics)
    pics.elcr.write(0, 1, 0x08)  # IRQ 3 level-triggered
    pics.raise_irq(3)
    assert pics.pending()
    pics.lower_irq(3)
    assert not pics.pending()
    assert pics.acknowledge() == 0x27
    assert isr(pics) == 0x00


def test_spurious_irq15_sets_the_cascade_in_service_on_the_master() -> None:
    pics = PicPair(boot_state=False)
    init(pics)
    pics.elcr.write(1, 1, 0x04)  # IRQ 10 level-triggered
    pics.raise_irq(10)
    pics.lower_irq(10)  # the slave drops its request; the master's IRQ 2 edge stays latched
    assert pics.pending()
    assert pics.acknowledge() == 0x2F
    assert isr(pics) == 0x04
    assert isr(pics, slave=True) == 0x00


def test_edge_request_survives_the_line_falling_as_in_qemu() -> None:
    pics = PicPair(boot_state=False)
    init(pics)
    pics.raise_irq(4)
    pics.lower_irq(4)
    assert pics.acknowledge() == 0x24
    pics.raise_irq(4)
    pics.raise_irq(4)  # still high: no new edge
    pics.master.write(0, 1, 0x20)
    assert pics.acknowledge() == 0x24
    pics.master.write(0, 1, 0x20)
    assert not pics.pending()


def test_level_request_stays_in_irr_through_inta() -> None:
    pics = PicPair(boot_state=False)
    init(pics)
    pics.elcr.write(0, 1, 0xFF)
    assert pics.elcr.read(0, 1) == 0xF8  # IRQ 0-2 are always edge
    pics.raise_irq(3)
    assert pics.acknowledge() == 0x23
    assert irr(pics) == 0x08
    pics.master.write(0, 1, 0x20)
    assert pics.pending()  # still asserted


def test_poll_mode() -> None:
    pics = PicPair(boot_state=False)
    init(pics)
    pics.master.write(0, 1, 0x0C)
    assert pics.master.read(0, 1) == 0x00  # measured: nothing pending reads 0
    pics.raise_irq(6)
    pics.master.write(0, 1, 0x0C)
    assert pics.master.read(1, 1) == 0x86  # either port answers the poll
    assert isr(pics) == 0x40
    assert pics.master.read(1, 1) == 0x00  # back to the IMR


def test_auto_eoi_leaves_isr_clear() -> None:
    pics = PicPair(boot_state=False)
    init(pics, icw4=0x03)
    pics.raise_irq(1)
    assert pics.acknowledge() == 0x21
    assert isr(pics) == 0x00
    pics.raise_irq(3)
    assert pics.pending()


def test_special_mask_mode_lets_lower_levels_in() -> None:
    pics = PicPair(boot_state=False)
    init(pics)
    pics.raise_irq(1)
    pics.acknowledge()
    pics.raise_irq(5)
    assert not pics.pending()
    pics.master.write(1, 1, 0x02)
    pics.master.write(0, 1, 0x68)  # OCW3: set special mask
    assert pics.pending()
    assert pics.acknowledge() == 0x25


def test_wide_access_splits_into_ports() -> None:
    pics = PicPair()
    assert pics.master.read(0, 2) == 0xB800
    assert pics.master.read(1, 2) == 0xFFB8
    pics.master.write(1, 1, 0x12)
    assert pics.master.read(1, 1) == 0x12
