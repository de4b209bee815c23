"""The IDE channels per ATA/ATAPI-6 and QEMU 7.2 hw/ide/core.c: registers, signatures, IDENTIFY,
CHS/LBA28/LBA48 PIO transfers, READ/WRITE MULTIPLE, errors, the interrupt line, soft reset and
the ports (bt/devices/ata_drive.py, ide_channel.py, ide_isa.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bt.bus import Bus
from bt.devices.ata_identify import ata_string
from bt.devices.diskimage import HARD_DISK, DiskImage
from bt.devices.ide_isa import IdeController
from bt.errors import StateError

P, CTRL = 0x1F0, 0x3F6
SECTORS = 8192  # 4 MiB: QEMU's 8/16/63 geometry


def image(tmp_path: Path, name: str = "hda.img", sectors: int = SECTORS) -> DiskImage:
    path = tmp_path / name
    path.write_bytes(b"".join(n.to_bytes(4, "little") + bytes(508) for n in range(sectors)))
    return DiskImage(str(path), HARD_DISK, snapshot=True)


class Rig:
    """A controller on a port bus, its IRQ lines recorded."""

    def __init__(self, *images: DiskImage | None) -> None:
        self.lines: dict[int, int] = {14: 0, 15: 0}
        self.edges = {14: 0, 15: 0}
        self.ide = IdeController(images, self._line)
        self.io = Bus()
        self.ide.register(self.io)

    def _line(self, irq: int):  # type: ignore[no-untyped-def]
        def set_level(level: int) -> None:
            if level and not self.lines[irq]:
                self.edges[irq] += 1
            self.lines[irq] = level

        return set_level

    def soft_reset(self) -> None:
        """SRST on both channels, then the masters selected (a reset leaves the unit as it
        was: QEMU's bus->unit, here the slave SeaBIOS selected last)."""
        for ctrl, base in ((CTRL, P), (0x376, 0x170)):
            self.io.write(ctrl, 1, 0x04)
            self.io.write(ctrl, 1, 0x00)
            self.out(6, 0xA0, base)

    def out(self, reg: int, value: int, base: int = P) -> None:
        self.io.write(base + reg, 1, value)

    def inb(self, reg: int, base: int = P) -> int:
        return self.io.read(base + reg, 1)

    def command(self, cmd: int, dev: int = 0xE0, count: int = 1, lba: int = 0) -> None:
        self.out(6, dev | (lba >> 24 & 0x0F))
        self.out(2, count)
        self.out(3, lba & 0xFF)
        self.out(4, lba >> 8 & 0xFF)
        self.out(5, lba >> 16 & 0xFF)
        self.out(7, cmd)

    def words(self, n: int = 256) -> list[int]:
        return [self.io.read(P, 2) for _ in range(n)]


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(image(tmp_path))


def test_signature_after_reset_and_absent_positions(tmp_path: Path) -> None:
    r = Rig(image(tmp_path), None, None, image(tmp_path, "hdd.img", 2048))
    r.soft_reset()
    assert [r.inb(i) for i in range(1, 8)] == [0x01, 1, 1, 0, 0, 0xA0, 0x50]  # diagnostic: 1
    r.out(6, 0xB0)  # the absent primary slave: status and error 0, the rest its own registers
    assert r.inb(7) == 0 and r.inb(1) == 0 and r.io.read(CTRL, 1) == 0
    assert (r.inb(4), r.inb(5)) == (0xFF, 0xFF)
    # Secondary: master absent, slave present; the absent master answers (QEMU: only the
    # slave's absence is hidden), and aborts what needs a disk.
    assert r.inb(7, 0x170) == 0x50 and (r.inb(4, 0x170), r.inb(5, 0x170)) == (0xFF, 0xFF)
    r.out(6, 0xA0, 0x170)
    r.out(7, 0xEC, 0x170)
    assert (r.inb(7, 0x170), r.inb(1, 0x170)) == (0x41, 0x04)


def test_channels_start_as_seabios_leaves_them(tmp_path: Path) -> None:
    r = Rig(image(tmp_path), None, image(tmp_path, "c.img"), image(tmp_path, "d.img"))
    # Primary: the absent slave selected (status 0), its presence check's bytes in HOB.
    assert [r.inb(i) for i in range(1, 8)] == [0, 0, 0, 0, 0, 0xB0, 0]
    r.io.write(CTRL, 1, 0x80)
    assert (r.inb(2), r.inb(3)) == (0x55, 0xAA)
    r.io.write(CTRL, 1, 0x00)
    r.out(6, 0xA0)
    assert [r.inb(i) for i in range(1, 8)] == [0, 0, 0, 0, 0, 0xA0, 0x50]
    # Secondary, both present: the slave selected, nothing in HOB; nIEN is clear.
    assert [r.inb(i, 0x170) for i in range(1, 8)] == [0, 0, 0, 0, 0, 0xB0, 0x50]
    r.out(7, 0x10, 0x170)
    assert r.edges[15] == 1


def test_a_channel_without_disks_reads_zero() -> None:
    r = Rig()
    assert [r.inb(i) for i in range(1, 8)] == [0] * 7
    assert r.io.read(CTRL, 1) == 0 and r.inb(0) == 0xFF and r.io.read(P, 2) == 0


def test_identify_words(rig: Rig) -> None:
    rig.command(0xEC, 0xA0)
    assert rig.inb(7) == 0x58 and rig.lines[14] == 0  # the status read lowered the line
    w = rig.words()
    assert rig.inb(7) == 0x50
    assert w[0] == 0x0040 and (w[1], w[3], w[6]) == (8, 16, 63) and w[54:57] == [8, 16, 63]
    assert w[27:47] == ata_string("QEMU HARDDISK", 40) and w[10:20] == ata_string("QM00001", 20)
    assert w[23:27] == ata_string("2.5+", 8)
    assert (w[47], w[49], w[59]) == (0x8010, 0x0B00, 0x0110)
    assert (w[57] | w[58] << 16) == 8 * 16 * 63 and (w[60] | w[61] << 16) == SECTORS
    assert (w[83], w[85], w[86], w[88], w[93], w[100]) == (
        0x7400,
        0x4021,
        0x3400,
        0x203F,
        0x6001,
        SECTORS,
    )


def test_data_port_dword_reads_and_byte_read(rig: Rig) -> None:
    rig.command(0xEC, 0xA0)
    assert rig.inb(0) == 0xFF  # a byte read of the data register moves nothing
    first = rig.io.read(P, 4)
    assert first == 0x0040 | 8 << 16
    assert len([rig.io.read(P, 4) for _ in range(127)]) == 127 and not rig.inb(7) & 0x08


def test_read_sectors_by_chs_updates_the_address(rig: Rig) -> None:
    rig.out(6, 0xA2)  # CHS head 2
    rig.out(2, 2)
    rig.out(3, 3)  # sector 3
    rig.out(4, 1)  # cylinder 1
    rig.out(5, 0)
    rig.out(7, 0x20)
    lba = 1 * 16 * 63 + 2 * 63 + 2
    # The registers move when a block is loaded: one left, the next sector.
    assert (rig.inb(2), rig.inb(3), rig.inb(6)) == (1, 4, 0xA2)
    assert rig.words(2) == [lba & 0xFFFF, lba >> 16]
    rig.words(254)
    assert (rig.inb(2), rig.inb(3)) == (0, 5)
    assert rig.words(2)[0] == lba + 1
    rig.words(254)
    assert rig.inb(7) == 0x50 and (rig.inb(2), rig.inb(3)) == (0, 5)


def test_read_by_lba_raises_irq_per_block_and_count_zero_is_256(rig: Rig) -> None:
    rig.command(0x20, count=0, lba=0x123)
    for n in range(256):
        assert rig.lines[14] == 1 and rig.inb(7) == 0x58 and rig.lines[14] == 0
        assert rig.words(1)[0] == 0x123 + n
        rig.words(255)
    assert rig.edges[14] == 256 and rig.inb(7) == 0x50
    assert (rig.inb(3), rig.inb(4), rig.inb(5), rig.inb(6)) == (0x23, 0x02, 0, 0xE0)


def test_alternate_status_keeps_the_interrupt(rig: Rig) -> None:
    rig.command(0x20, count=2, lba=5)
    assert rig.io.read(CTRL, 1) == 0x58 and rig.lines[14] == 1
    rig.words()  # the second block's completion finds the line still high: no new edge
    assert rig.edges[14] == 1 and rig.lines[14] == 1
    rig.inb(7)
    assert rig.lines[14] == 0


def test_nien_suppresses_the_interrupt(rig: Rig) -> None:
    rig.io.write(CTRL, 1, 0x02)
    rig.command(0x10)
    assert rig.edges[14] == 0 and rig.inb(7) == 0x50


def test_read_multiple_blocks_and_set_multiple(rig: Rig) -> None:
    rig.command(0xC6, count=4)
    assert rig.inb(7) == 0x50
    rig.command(0xC4, count=10, lba=200)
    sizes = []
    while rig.inb(7) & 0x08:
        block = rig.ide.channels[0].read_string(0, 2, 1 << 16)
        sizes.append(len(block) // 512)
    assert sizes == [4, 4, 2] and rig.edges[14] == 4
    for bad in (3, 32):
        rig.command(0xC6, count=bad)
        assert (rig.inb(7), rig.inb(1)) == (0x41, 0x04)
    rig.command(0xC6, count=0)
    rig.command(0xC4, count=1)
    assert (rig.inb(7), rig.inb(1)) == (0x41, 0x04)  # READ MULTIPLE with multiple mode off


def test_write_sectors_reach_the_image(rig: Rig) -> None:
    disk = rig.ide.channels[0].drives[0].image
    assert disk is not None
    rig.command(0x30, count=2, lba=500)
    assert rig.inb(7) == 0x58 and rig.edges[14] == 0  # no interrupt before the first block
    for i in range(256):
        rig.io.write(P, 2, i)
    assert rig.edges[14] == 1 and rig.inb(7) == 0x58
    assert rig.ide.channels[0].write_string(0, 2, bytes(range(256)) * 2) == 512
    assert rig.edges[14] == 2 and rig.inb(7) == 0x50
    data = disk.read(500, 2)
    assert data[:4] == b"\0\0\1\0" and data[512:] == bytes(range(256)) * 2
    assert rig.ide.sectors_moved() == (0, 2)


def test_write_multiple_takes_one_block(rig: Rig) -> None:
    rig.command(0xC5, count=3, lba=600)  # 16 sectors per block (the power-on setting)
    assert rig.ide.channels[0].write_string(0, 4, b"\x11" * 3 * 512) == 3 * 512
    assert rig.edges[14] == 1 and rig.inb(7) == 0x50


def test_errors_as_qemu_sets_them(rig: Rig) -> None:
    for cmd in (0x50, 0x11, 0xB0, 0x06, 0x08):  # unknown, RECALIBRATE 0x11, SMART, DSM, RESET
        rig.command(cmd)
        assert (rig.inb(7), rig.inb(1)) == (0x41, 0x04), hex(cmd)
    rig.command(0x20, count=2, lba=SECTORS - 1)  # the first sector is there, the second not
    rig.words()
    assert (rig.inb(7), rig.inb(1), rig.inb(3)) == (0x41, 0x04, 0x00)
    rig.command(0x20, count=1, lba=SECTORS)  # past the end: ABRT, not IDNF
    assert (rig.inb(7), rig.inb(1)) == (0x41, 0x04)
    rig.command(0x20, dev=0xA0, count=1, lba=0)  # CHS sector 0
    assert (rig.inb(7), rig.inb(1)) == (0x41, 0x04)


def test_other_commands(rig: Rig) -> None:
    rig.command(0x40, count=5, lba=7)
    assert (rig.inb(7), rig.inb(2), rig.inb(3)) == (0x50, 5, 7)  # READ VERIFY moves nothing
    rig.command(0x94)  # STANDBY IMMEDIATE: DRDY without DSC (not a SET_DSC command)
    assert rig.inb(7) == 0x40
    rig.command(0xE5, count=0)
    assert rig.inb(2) == 0xFF
    rig.command(0xF8)
    assert (rig.inb(3), rig.inb(4), rig.inb(6)) == (0xFF, 0x1F, 0xE0)
    rig.out(6, 0xA7)
    rig.out(2, 32)
    rig.out(7, 0x91)  # INITIALIZE DEVICE PARAMETERS: 8 heads, 32 sectors per track
    rig.command(0x20, dev=0xA7, count=1, lba=32 | 1 << 8)  # C=1 H=7 S=32: 8 * 32 + 7 * 32 + 31
    assert rig.words(1)[0] == 8 * 32 + 7 * 32 + 31
    rig.words(255)
    rig.out(1, 0x03)
    rig.command(0xEF, count=0x22)  # SET FEATURES: multiword DMA 2
    rig.command(0xEC)
    assert rig.words()[63] == 0x0407


def test_lba48_and_hob_readback(rig: Rig) -> None:
    for reg in (2, 3, 4, 5):
        rig.out(reg, 0)  # the high bytes, pushed into HOB by the next writes
    rig.command(0x24, count=1, lba=0x1000)
    assert rig.words(1)[0] == 0x1000
    rig.words(255)
    rig.io.write(CTRL, 1, 0x80)
    assert (rig.inb(2), rig.inb(3), rig.inb(4)) == (0, 0, 0)
    rig.io.write(CTRL, 1, 0)
    assert (rig.inb(3), rig.inb(4)) == (0x01, 0x10)


def test_soft_reset_and_diagnostic(rig: Rig) -> None:
    rig.command(0x20, count=4, lba=9)
    rig.io.write(CTRL, 1, 0x04)  # SRST: the transfer ends, both positions reset
    assert rig.inb(7) == 0x50 and [rig.inb(i) for i in (1, 2, 3, 4, 5, 6)] == [1, 1, 1, 0, 0, 0xA0]
    rig.io.write(CTRL, 1, 0x00)
    rig.io.write(CTRL, 1, 0x04)  # the reset cleared SRST: setting it again resets again
    rig.command(0x90, dev=0xE0)
    assert (rig.inb(7), rig.inb(1), rig.inb(6)) == (0x50, 0x01, 0xA0)  # DEV and LBA cleared


def test_word_access_to_byte_registers(rig: Rig) -> None:
    rig.soft_reset()
    assert rig.io.read(P + 2, 2) == 0x0101  # count and sector number
    assert rig.io.read(P + 7, 2) == 0xFF50  # status, and nothing at 0x1F8
    assert rig.io.read(CTRL, 2) == 0xFF50
    rig.io.write(P + 2, 2, 0x0705)  # a word write: two byte registers
    assert (rig.inb(2), rig.inb(3)) == (5, 7)
    rig.io.write(P + 2, 4, 0x01020304)  # a dword write there is dropped
    assert (rig.inb(2), rig.inb(3), rig.io.read(P + 2, 4)) == (5, 7, 0xFFFFFFFF)


def test_secondary_channel_uses_irq_15(tmp_path: Path) -> None:
    r = Rig(None, None, image(tmp_path))
    r.out(6, 0xE0, 0x170)
    r.out(7, 0x10, 0x170)
    assert r.edges == {14: 0, 15: 1} and r.ide.channels[1].drives[0].identify[10:20] == ata_string(
        "QM00003", 20
    )


def test_state_round_trip_in_the_middle_of_a_block(tmp_path: Path) -> None:
    disk = image(tmp_path)
    a = Rig(disk)
    a.command(0x20, count=2, lba=40)
    a.words(100)
    b = Rig(disk)
    b.ide.restore(a.ide.save())
    assert b.ide.save() == a.ide.save()
    rest_a, rest_b = a.words(156 + 256), b.words(156 + 256)
    assert rest_a == rest_b and rest_b[156] == 41 and b.inb(7) == 0x50


def test_a_record_for_another_disk_layout_is_refused(tmp_path: Path) -> None:
    state = Rig(image(tmp_path)).ide.save()
    other = Rig(None, image(tmp_path, "b.img"))
    before = other.ide.save()
    with pytest.raises(StateError, match="ide: malformed state"):
        other.ide.restore(state)
    assert other.ide.save() == before  # checked whole before anything changed
