"""Int13 through a BiosCpu of the test's own: reads, writes and verifies by CHS and LBA, the
errors SeaBIOS returns (sector 0, past the end, count 0, DMA boundary), AH=08h/15h/41h and the
EDD buffer of AH=48h. tests/test_int13_qemu.py compares the same service with QEMU's."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from bt.bios.api import BiosCall, Outcome, Unsupported
from bt.bios.biosdrive import BiosDrive
from bt.bios.edd import FarPtr
from bt.bios.int13 import Int13
from bt.devices.diskimage import FLOPPY, HARD_DISK, DiskImage

TABLE = FarPtr(0xF000, 0xEFC7)  # where a BIOS keeps its diskette parameter table
DPTE = FarPtr(0x9FC0, 0x0100)
HALVES = {"l": (0, 0xFF), "h": (8, 0xFF)}


class Cpu:
    """The caller's 16-bit registers and CF, and 1 MiB of memory (BiosCpu and PhysMemory)."""

    def __init__(self, **regs: int) -> None:
        self.r = dict.fromkeys(("ax", "bx", "cx", "dx", "si", "di"), 0)
        self.s = dict.fromkeys(("es", "cs", "ss", "ds", "fs", "gs"), 0)
        self.cf = True
        self.mem = bytearray(1 << 20)
        for name, value in regs.items():
            (self.s if name in self.s else self.r)[name] = value

    def _split(self, name: str) -> tuple[str, int, int]:
        if name[1] in HALVES and name[0] in "abcd":
            shift, mask = HALVES[name[1]]
            return name[0] + "x", shift, mask
        return name[-2:], 0, 0xFFFF

    def reg(self, name: str) -> int:
        full, shift, mask = self._split(name)
        return self.r[full] >> shift & mask

    def set_reg(self, name: str, value: int) -> None:
        full, shift, mask = self._split(name)
        self.r[full] = self.r[full] & ~(mask << shift) | (value & mask) << shift

    def seg(self, name: str) -> int:
        return self.s[name]

    def set_seg(self, name: str, selector: int) -> None:
        self.s[name] = selector

    def linear(self, seg: str, offset: int) -> int:
        return (self.s[seg] << 4) + (offset & 0xFFFF)

    def flag(self, name: str) -> bool:
        return self.cf

    def set_flag(self, name: str, value: bool) -> None:
        assert name == "cf"
        self.cf = value

    def read_phys(self, phys: int, n: int) -> bytes:
        return bytes(self.mem[phys : phys + n])

    def write_phys(self, phys: int, data: bytes) -> None:
        self.mem[phys : phys + len(data)] = data

    def read(self, port: int, size: int) -> int:
        raise AssertionError("INT 13h touches no port here")

    def write(self, port: int, size: int, value: int) -> None:
        raise AssertionError("INT 13h touches no port here")


def patterned(tmp_path: Path, name: str, sectors: int, tag: int) -> str:
    path = tmp_path / name
    path.write_bytes(b"".join(struct.pack("<I", tag << 24 | k) * 128 for k in range(sectors)))
    return str(path)


@pytest.fixture
def service(tmp_path: Path) -> Int13:
    fd = DiskImage(patterned(tmp_path, "a.img", 2880, 1), FLOPPY, snapshot=True)
    hd = DiskImage(patterned(tmp_path, "c.img", 20480, 2), HARD_DISK, snapshot=True)
    return Int13({0: BiosDrive(fd, 0), 0x80: BiosDrive(hd, 0)}, TABLE, DPTE)


def call(service: Int13, cpu: Cpu) -> Outcome | Unsupported:
    result = service(BiosCall(0x13, cpu, cpu, cpu, 0))
    return result


def tag_at(cpu: Cpu, addr: int) -> int:
    return int(struct.unpack_from("<I", cpu.mem, addr)[0])


def ok(cpu: Cpu, ah: int = 0) -> None:
    assert (cpu.reg("ah"), cpu.cf) == (ah, False)


def failed(cpu: Cpu, ah: int) -> None:
    assert (cpu.reg("ah"), cpu.cf) == (ah, True)


def test_chs_read_floppy_and_hard_disk(service: Int13) -> None:
    cpu = Cpu(ax=0x0203, cx=0x0111, dx=0x0100, es=0x1000, bx=0x0010)  # C1 H1 S17, 3 sectors
    assert call(service, cpu) == Outcome.DONE
    ok(cpu)
    assert cpu.reg("al") == 3
    lba = (1 * 2 + 1) * 18 + 16
    assert [tag_at(cpu, 0x10010 + 512 * i) for i in range(3)] == [
        1 << 24 | lba + i for i in range(3)
    ]
    cpu = Cpu(ax=0x0201, cx=0x4101, dx=0x0380, es=0x2000)  # C 0x141 = 321 H3 S1 on 20/16/63
    call(service, cpu)
    failed(cpu, 0x01)  # cylinder 321 >= 20
    cpu = Cpu(ax=0x0202, cx=0x013F, dx=0x0080, es=0x2000)  # C1 H0 S63
    call(service, cpu)
    ok(cpu)
    assert tag_at(cpu, 0x20000) == 2 << 24 | 16 * 63 + 62
    assert tag_at(cpu, 0x20200) == 2 << 24 | 16 * 63 + 63


def test_write_then_read_back_and_verify(service: Int13) -> None:
    cpu = Cpu(ax=0x0301, cx=0x0005, dx=0x0000, es=0x1000)
    cpu.mem[0x10000:0x10200] = b"\x5a" * 512
    call(service, cpu)
    ok(cpu)
    cpu = Cpu(ax=0x0202, cx=0x0004, dx=0x0000, es=0x3000)
    call(service, cpu)
    assert tag_at(cpu, 0x30000) == 1 << 24 | 3
    assert cpu.mem[0x30200:0x30400] == b"\x5a" * 512
    cpu = Cpu(ax=0x0403, cx=0x0001, dx=0x0080, es=0x4000)
    call(service, cpu)
    ok(cpu)
    assert cpu.reg("al") == 3 and cpu.mem[0x40000:0x40600] == bytes(0x600)
    # the extended write (DAP at DS:SI) and read back
    cpu = Cpu(ax=0x4300, dx=0x0080, si=0x500)
    cpu.mem[0x500:0x510] = struct.pack("<BBHHHQ", 16, 0, 2, 0, 0x5000, 100)
    cpu.mem[0x50000:0x50400] = b"\xa5" * 1024
    call(service, cpu)
    ok(cpu)
    cpu = Cpu(ax=0x4200, dx=0x0080, si=0x500)
    cpu.mem[0x500:0x510] = struct.pack("<BBHHHQ", 16, 0, 3, 0, 0x6000, 99)
    call(service, cpu)
    ok(cpu)
    assert tag_at(cpu, 0x60000) == 2 << 24 | 99
    assert cpu.mem[0x60200:0x60600] == b"\xa5" * 1024
    assert service.statistics().sectors_written == 3
    assert service.statistics().sectors_read == 5


@pytest.mark.parametrize(
    ("regs", "ah"),
    [
        ({"ax": 0x0201, "cx": 0x0000}, 0x01),  # sector 0
        ({"ax": 0x0200, "cx": 0x0001}, 0x01),  # count 0
        ({"ax": 0x0281, "cx": 0x0001}, 0x01),  # count 129
        ({"ax": 0x0201, "cx": 0x5001}, 0x01),  # cylinder 80 of 80
        ({"ax": 0x0201, "cx": 0x0013}, 0x01),  # sector 19 of 18
        ({"ax": 0x0201, "cx": 0x0001, "dx": 0x0200}, 0x01),  # head 2
        ({"ax": 0x0202, "cx": 0x0001, "es": 0x1FF0}, 0x09),  # 0x1FF00..0x202FF: a DMA boundary
        ({"ax": 0x0201, "cx": 0x0001, "dx": 0x0002}, 0x01),  # no drive 2
    ],
)
def test_floppy_errors(service: Int13, regs: dict[str, int], ah: int) -> None:
    cpu = Cpu(**{"es": 0x1000, **regs})
    call(service, cpu)
    failed(cpu, ah)
    assert cpu.mem[0x441] == ah  # the floppy's last status in the BDA
    cpu.r.update(ax=0x0100, dx=0x0000)  # AH=01h: the last status again
    call(service, cpu)
    failed(cpu, ah)
    assert cpu.mem[0x441] == ah


def test_extended_errors_and_partial_read(service: Int13) -> None:
    def ext(count: int, lba: int) -> Cpu:
        cpu = Cpu(ax=0x4200, dx=0x0080, si=0x500)
        cpu.mem[0x500:0x510] = struct.pack("<BBHHHQ", 16, 0, count, 0, 0x1000, lba)
        call(service, cpu)
        return cpu

    cpu = ext(1, 20480)  # LBA past the end
    failed(cpu, 0x01)
    assert cpu.mem[0x474] == 0x01
    cpu = ext(0, 5)  # nothing to do
    ok(cpu)
    cpu = ext(129, 5)  # more than 64 KiB
    failed(cpu, 0x09)
    assert struct.unpack_from("<H", cpu.mem, 0x502)[0] == 0
    cpu = ext(2, 20479)  # the last sector and one past it: the ATA read fails after one
    failed(cpu, 0x0C)
    assert struct.unpack_from("<H", cpu.mem, 0x502)[0] == 1
    assert tag_at(cpu, 0x10000) == 2 << 24 | 20479
    cpu = Cpu(ax=0x4300, dx=0x0080, si=0x500)  # a write across the end: SeaBIOS reports 0
    cpu.mem[0x500:0x510] = struct.pack("<BBHHHQ", 16, 0, 2, 0, 0x1000, 20479)
    cpu.mem[0x10000:0x10400] = b"\xee" * 1024
    call(service, cpu)
    failed(cpu, 0x0C)
    assert struct.unpack_from("<H", cpu.mem, 0x502)[0] == 0
    assert service.drives[0x80].disk().read(20479, 1) == b"\xee" * 512  # yet it was written


def test_drive_parameters(service: Int13) -> None:
    cpu = Cpu(ax=0x0800, dx=0x0000)
    call(service, cpu)
    ok(cpu)
    assert (cpu.reg("ch"), cpu.reg("cl"), cpu.reg("dh"), cpu.reg("dl")) == (79, 18, 1, 1)
    assert cpu.reg("bx") == 4 and (cpu.seg("es"), cpu.reg("di")) == (0xF000, 0xEFC7)
    cpu = Cpu(ax=0x0800, dx=0x0080, bx=0x1234)
    call(service, cpu)
    ok(cpu)
    # 20 cylinders: the last one (19) is kept back, so CH = 18
    assert (cpu.reg("ch"), cpu.reg("cl"), cpu.reg("dh"), cpu.reg("dl")) == (18, 63, 15, 1)
    assert cpu.reg("bx") == 0x1234
    cpu = Cpu(ax=0x1500, dx=0x0080)
    call(service, cpu)
    ok(cpu, 3)
    assert cpu.reg("cx") << 16 | cpu.reg("dx") == 19 * 16 * 63
    cpu = Cpu(ax=0x1500, dx=0x0000)
    call(service, cpu)
    ok(cpu, 1)
    cpu = Cpu(ax=0x1600, dx=0x0000)
    call(service, cpu)
    failed(cpu, 0x06)


def test_extensions_installation_check(service: Int13) -> None:
    cpu = Cpu(ax=0x4100, bx=0x55AA, dx=0x0080)
    call(service, cpu)
    ok(cpu, 0x30)
    assert (cpu.reg("bx"), cpu.reg("cx")) == (0xAA55, 0x0007)
    cpu = Cpu(ax=0x4100, bx=0x55AA, dx=0x0000)  # not on a floppy
    call(service, cpu)
    failed(cpu, 0x01)


def test_edd_buffer(service: Int13) -> None:
    cpu = Cpu(ax=0x4800, dx=0x0080, si=0x600)
    cpu.mem[0x600:0x602] = struct.pack("<H", 66)
    cpu.mem[0x600 + 64] = 0x77  # reserved: the caller's byte stays
    call(service, cpu)
    ok(cpu)
    size, infos, cyls, heads, spt, sectors, blk, dpte = struct.unpack_from(
        "<HHIIIQHI", cpu.mem, 0x600
    )
    assert (size, infos, cyls, heads, spt, sectors, blk) == (30, 2, 20, 16, 63, 20480, 512)
    assert dpte == DPTE.segoff
    key, dpi = struct.unpack_from("<HB", cpu.mem, 0x600 + 30)
    assert (key, dpi) == (0xBEDD, 36)
    assert cpu.mem[0x600 + 36 : 0x600 + 48] == b"PCI ATA     "
    assert struct.unpack_from("<QQ", cpu.mem, 0x600 + 48) == (0x010100, 0)
    assert cpu.mem[0x600 + 64] == 0x77
    assert sum(cpu.mem[0x600 + 30 : 0x600 + 66]) & 0xFF == 0
    table = cpu.mem[DPTE.linear : DPTE.linear + 16]
    assert struct.unpack_from("<HHBBB", table) == (0x1F0, 0x3F6, 0xE0, 0xCB, 14)
    assert sum(table) & 0xFF == 0
    cpu = Cpu(ax=0x4800, dx=0x0080, si=0x600)
    cpu.mem[0x600:0x602] = struct.pack("<H", 25)
    call(service, cpu)
    failed(cpu, 0x01)


def test_unknown_and_unsupported_functions(service: Int13) -> None:
    cpu = Cpu(ax=0x5000, dx=0x0080)
    assert call(service, cpu) == Outcome.DONE
    failed(cpu, 0x01)  # as SeaBIOS's disk_13XX
    assert service.statistics().unknown == {0x50: 1}
    cpu = Cpu(ax=0x0501, dx=0x0000)
    assert isinstance(call(service, cpu), Unsupported)


def test_a_reset_lets_a_floppy_of_another_rate_be_read_again(tmp_path: Path) -> None:
    a = DiskImage(patterned(tmp_path, "a.img", 2880, 1), FLOPPY, snapshot=True)
    b = DiskImage(patterned(tmp_path, "b.img", 720, 3), FLOPPY, snapshot=True)
    service = Int13({0: BiosDrive(a, 0), 1: BiosDrive(b, 1)}, TABLE, DPTE)
    for dl, ah in ((0, 0), (1, 0), (0, 0x20)):  # 500 kb/s, 300 kb/s, then drive 0 again
        cpu = Cpu(ax=0x0201, cx=0x0001, dx=dl, es=0x1000)
        call(service, cpu)
        assert cpu.reg("ah") == ah
    call(service, Cpu(ax=0x0000, dx=0x0000))
    cpu = Cpu(ax=0x0201, cx=0x0001, dx=0, es=0x1000)
    call(service, cpu)
    ok(cpu)
