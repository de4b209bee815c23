"""POST: the IVT, BDA, EBDA, devices and registers SeaBIOS leaves at the boot sector's entry."""

from __future__ import annotations

import pytest

from bt.bios import bda
from bt.bios.post import Chs, DiskCounts, boot_screen, fdpt, post, ticks_from_ms
from bt.bios.rom import load
from bt.devices.cmos import Cmos
from bt.errors import OptionError
from tests.biosmachine import RAM_SIZE, Machine


def test_registers_at_the_boot_sector() -> None:
    # SeaBIOS's call_boot_entry (src/boot.c): AX 0xAA55, DL the drive, IF; SS:SP measured.
    for drive in (0x00, 0x80):
        state = Machine(boot_drive=drive).boot
        assert (state.cs, state.ip, state.ss, state.sp) == (0, 0x7C00, 0, 0x6F04)
        assert (state.ds, state.es, state.fs, state.gs) == (0, 0, 0, 0)
        assert (state.eax, state.edx) == (0xAA55, drive)
        assert state.ebx == state.ecx == state.esi == state.edi == state.ebp == 0
        assert (state.eflags, state.cr0) == (0x202, 0x10)


def test_ivt_and_ebda() -> None:
    m = Machine()
    assert bytes(m.mem.ram[:0x400]) == load().ivt_bytes()
    assert m.bda16(bda.EBDA_SEG) == 0x9FC0
    assert m.mem.ram[0x9FC00] == 1 and not any(m.mem.ram[0x9FC01:0xA0000])


def test_bda_as_seabios_leaves_it() -> None:
    m = Machine(floppies=1, hard_disks=0)
    # Measured under QEMU 7.2 -m 128 -fda: the fields POST owns.
    assert [m.bda16(0x400 + 2 * i) for i in range(4)] == [0x3F8, 0, 0, 0]
    assert [m.bda16(0x408 + 2 * i) for i in range(3)] == [0x378, 0, 0]
    assert m.bda16(bda.EQUIPMENT) == 0x4227
    assert m.bda16(bda.MEM_SIZE_KIB) == 639
    assert [m.bda16(a) for a in (0x41A, 0x41C, 0x480, 0x482)] == [0x1E, 0x1E, 0x1E, 0x3E]
    assert m.mem.ram[0x449:0x452] == bytes.fromhex("0350000010000000 08".replace(" ", ""))
    assert m.bda16(bda.CURSOR_TYPE) == 0x0607 and m.bda16(bda.CRTC_ADDRESS) == 0x3D4
    assert m.mem.ram[0x484:0x48B] == bytes.fromhex("1810006 0f95108".replace(" ", ""))
    assert m.mem.ram[0x475:0x477] == bytes.fromhex("00c0")
    assert m.mem.ram[0x478] == 0x14 and m.mem.ram[0x47C] == 0x0A
    assert m.mem.ram[0x48F] == 0x07 and m.mem.ram[0x496] == 0x10


@pytest.mark.parametrize(("floppies", "disks", "equipment"), [(0, 1, 0x4226), (2, 2, 0x4267)])
def test_equipment_word_counts_the_drives(floppies: int, disks: int, equipment: int) -> None:
    m = Machine(boot_drive=0x80, floppies=floppies, hard_disks=disks)
    assert m.bda16(bda.EQUIPMENT) == equipment
    assert m.mem.ram[bda.HDCOUNT] == disks


def test_devices_programmed() -> None:
    m = Machine()
    assert (m.pics.master.irq_base, m.pics.slave.irq_base) == (0x08, 0x70)
    assert (m.pics.master.imr, m.pics.slave.imr) == (0xB8, 0x8E)  # measured: SeaBIOS's
    assert (m.pics.master.elcr, m.pics.slave.elcr) == (0x00, 0x0C)
    m.ports.write(0x43, 1, 0xE2)  # read-back status of channel 0
    assert m.ports.read(0x40, 1) & 0x3F == 0x34  # mode 2, lobyte/hibyte (pit_setup)
    assert m.ports.read(0x92, 1) == 0x02 and m.a20 == [1]
    assert m.cmos.data[0x0A] == 0x26 and m.cmos.data[0x0B] == 0x02


def test_tick_count_follows_the_rtc() -> None:
    m = Machine()
    m.cmos = Cmos(m.clock, RAM_SIZE, start_time=946684800 + 5 * 3600 + 24 * 60 + 43)
    m.ports = type(m.ports)()
    m.ports.register(0x70, 2, m.cmos, "cmos")
    post(m.mem, m.ports, RAM_SIZE, 0, DiskCounts(1, 0), banner=False)
    # clock_setup: 05:24:43 -> ticks_from_ms(19483000) = 354,718 (QEMU showed 354,720 a
    # couple of ticks later in its boot).
    assert m.mem.word(0x46C) | m.mem.word(0x46E) << 16 == ticks_from_ms(19483000) == 354718


def test_boot_screen_and_cursor() -> None:
    m = Machine(boot_drive=0x80, hard_disks=1)
    assert m.vga.screen_text().splitlines()[7] == "Booting from Hard Disk..."
    assert m.vga.cursor() == (8, 0) and m.bda16(bda.CURSOR_POS) == 0x0800
    assert boot_screen(0)[-1] == "Booting from Floppy..."


def test_ram_too_small_for_the_ebda() -> None:
    m = Machine()
    with pytest.raises(OptionError, match="EBDA"):
        post(m.mem, m.ports, 512 * 1024, 0, DiskCounts(1, 0))


def test_hard_disk_parameter_tables() -> None:
    m = Machine()
    small, big = Chs(2, 16, 63), Chs(1024, 255, 63)
    post(
        m.mem, m.ports, RAM_SIZE, 0x80, DiskCounts(1, 2, ((small, small), (big, Chs(4096, 16, 32))))
    )
    # Measured under QEMU 7.2 with a 1.44 MB image as -hda (CHS 2/16/63): INT 41h -> 9FC0:003D.
    assert m.mem.word(4 * 0x41) == 0x3D and m.mem.word(4 * 0x41 + 2) == 0x9FC0
    assert m.mem.read_phys(0x9FC3D, 16) == bytes.fromhex("02001000 00ffff00 c8000000 02003f00")
    assert m.mem.word(4 * 0x46) == 0x4D and m.mem.word(4 * 0x46 + 2) == 0x9FC0
    translated = m.mem.read_phys(0x9FC4D, 16)
    assert translated == fdpt(big, Chs(4096, 16, 32))
    assert translated[3:5] == b"\xa0\x20" and sum(translated) % 256 == 0
