"""REP INS/OUTS block moves to the IDE data port (bt/callouts/stringio.py): the same bytes,
counts and registers as item by item, pieces split at pages and at a 16-bit DI wrap, and a
page fault part-way leaving ECX/EDI at the first item not moved and the device's data there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bt.bus import Bus
from bt.callouts.stringio import block_target, ins_run, outs_run
from bt.devices.diskimage import HARD_DISK, DiskImage
from bt.devices.ide_isa import IdeController
from bt.paging import PageFault

MASKS = {"ecx": 0xFFFFFFFF, "edi": 0xFFFFFFFF, "esi": 0xFFFFFFFF, "cx": 0xFFFF, "di": 0xFFFF}


class FakeMem:
    """Guest memory whose pages from `fault_at` on are not present."""

    def __init__(self, fault_at: int = 1 << 32) -> None:
        self.ram = bytearray(0x20000)
        self.fault_at = fault_at
        self.on_access = None

    def linear_to_phys(self, linear: int, access: int = 0, system: bool = False) -> int:
        if linear >= self.fault_at:
            raise PageFault(linear, 0x02)
        return linear

    def write(self, linear: int, data: bytes) -> None:
        self.linear_to_phys(linear + len(data) - 1)
        self.ram[linear : linear + len(data)] = data

    def read(self, linear: int, n: int) -> bytes:
        self.linear_to_phys(linear + n - 1)
        return bytes(self.ram[linear : linear + n])


class FakeCtx:
    """The parts of a CalloutContext the block moves use."""

    def __init__(self, io: Bus, mem: FakeMem, **regs: int) -> None:
        self.io = io
        self.mem = mem
        self.regs = dict(regs)
        self.watch = None

    def reg(self, name: str) -> int:
        return self.regs[name]

    def set_reg(self, name: str, value: int) -> None:
        self.regs[name] = value & MASKS[name]

    def guest_eflags(self) -> int:
        return 0x2


def controller(tmp_path: Path) -> tuple[IdeController, Bus]:
    path = tmp_path / "d.img"
    path.write_bytes(b"".join(bytes([n & 0xFF]) * 512 for n in range(64)))
    ide = IdeController([DiskImage(str(path), HARD_DISK, snapshot=True)], lambda _: lambda _v: None)
    io = Bus()
    ide.register(io)
    return ide, io


def start_read(io: Bus, lba: int, count: int, cmd: int = 0x20) -> None:
    for reg, value in ((6, 0xE0), (2, count), (3, lba), (4, 0), (5, 0), (7, cmd)):
        io.write(0x1F0 + reg, 1, value)


def test_a_run_moves_every_block_with_the_counts(tmp_path: Path) -> None:
    ide, io = controller(tmp_path)
    start_read(io, 3, 4)
    ctx: Any = FakeCtx(io, FakeMem(), ecx=1024, edi=0x2FF0)
    target = block_target(ctx, 0x1F0, rep=True)
    assert target is not None
    reads = io.stats().reads
    assert ins_run(ctx, target, 2, 1024, 0, "edi", "ecx") == 0
    assert ctx.regs == {"ecx": 0, "edi": 0x2FF0 + 2048}
    assert bytes(ctx.mem.ram[0x2FF0 : 0x2FF0 + 2048]) == b"".join(
        bytes([n]) * 512 for n in (3, 4, 5, 6)
    )
    assert io.stats().reads - reads == 1024  # counted as single accesses
    assert not io.read(0x1F7, 1) & 0x08


def test_a_page_fault_part_way_keeps_the_rest_in_the_device(tmp_path: Path) -> None:
    ide, io = controller(tmp_path)
    start_read(io, 7, 1)
    ctx: Any = FakeCtx(io, FakeMem(fault_at=0x3000), ecx=256, edi=0x2FF8)
    target = block_target(ctx, 0x1F0, rep=True)
    assert target is not None
    with pytest.raises(PageFault):
        ins_run(ctx, target, 2, 256, 0, "edi", "ecx")
    assert ctx.regs == {"ecx": 252, "edi": 0x3000}  # four words moved, then the #PF
    assert io.read(0x1F7, 1) & 0x08  # the block is still there: 252 words
    assert [io.read(0x1F0, 2) for _ in range(252)] == [0x0707] * 252
    assert not io.read(0x1F7, 1) & 0x08


def test_a_16_bit_di_wraps_at_64k(tmp_path: Path) -> None:
    ide, io = controller(tmp_path)
    start_read(io, 9, 1)
    ctx: Any = FakeCtx(io, FakeMem(), cx=256, di=0xFFFC)
    target = block_target(ctx, 0x1F0, rep=True)
    assert target is not None
    assert ins_run(ctx, target, 2, 256, 0x1000, "di", "cx") == 0
    assert ctx.regs == {"cx": 0, "di": 0x1FC}
    assert (
        ctx.mem.ram[0x10FFC:0x11000] == b"\x09" * 4 and ctx.mem.ram[0x1000:0x11FC] == b"\x09" * 508
    )


def test_outs_fills_the_write_block(tmp_path: Path) -> None:
    ide, io = controller(tmp_path)
    start_read(io, 20, 2, cmd=0x30)
    mem = FakeMem()
    mem.ram[0x4000:0x4400] = b"\xab" * 1024
    ctx: Any = FakeCtx(io, mem, ecx=256, esi=0x4000)
    target = block_target(ctx, 0x1F0, rep=True)
    assert target is not None
    assert outs_run(ctx, target, 4, 256, 0, "esi", "ecx") == 0
    assert ctx.regs == {"ecx": 0, "esi": 0x4400}
    disk = ide.channels[0].drives[0].image
    assert disk is not None and disk.read(20, 2) == b"\xab" * 1024


def test_no_block_move_without_rep_or_with_df_or_unaligned(tmp_path: Path) -> None:
    ide, io = controller(tmp_path)
    ctx: Any = FakeCtx(io, FakeMem(), ecx=4, edi=0x1001)
    assert block_target(ctx, 0x1F0, rep=False) is None
    assert block_target(ctx, 0x1F7, rep=True) is not None  # the device decides per offset
    start_read(io, 1, 1)
    target = block_target(ctx, 0x1F0, rep=True)
    assert target is not None
    assert ins_run(ctx, target, 2, 4, 0, "edi", "ecx") == 4  # unaligned: item by item
    ctx.guest_eflags = lambda: 0x402
    assert block_target(ctx, 0x1F0, rep=True) is None
