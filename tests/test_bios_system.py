"""INT 11h, 12h and 15h: the values SeaBIOS gives (src/system.c, src/memmap.c), measured under
QEMU 7.2 with a probe boot sector where noted, and port 0x92."""

from __future__ import annotations

import struct

import pytest

from bt.bios import memmap, waits
from bt.bios.api import Outcome, Unsupported
from bt.bios.system import Equipment, MemorySize, System
from bt.devices.port92 import Port92
from tests.biosmachine import RAM_SIZE, Machine

MIB = 1 << 20
S = System(RAM_SIZE)


def e820_entries(m: Machine, service: System) -> list[tuple[int, int, int]]:
    entries, ebx = [], 0
    while True:
        m.call(service, 0x15, eax=0xE820, edx=0x534D4150, ebx=ebx, ecx=24, es=0x0600, edi=0)
        assert not m.cpu.flag("cf")
        assert (m.cpu.reg("eax"), m.cpu.reg("ecx")) == (0x534D4150, 20)
        entries.append(struct.unpack("<QQI", m.mem.read_phys(0x6000, 20)))
        ebx = m.cpu.reg("ebx")
        if ebx == 0:
            return entries


def test_equipment_and_memory_size() -> None:
    m = Machine()
    m.call(Equipment(), 0x11)
    assert m.cpu.reg("ax") == 0x4227
    m.call(MemorySize(), 0x12)
    assert m.cpu.reg("ax") == 0x027F


# Measured: -m 128 and -m 3584 (RAM above 4 GiB: pc-i440fx keeps 3 GiB low).
E820_128M = [
    (0, 0x9FC00, 1), (0x9FC00, 0x400, 2), (0xF0000, 0x10000, 2),
    (0x100000, 0x7EE0000, 1), (0x7FE0000, 0x20000, 2), (0xFFFC0000, 0x40000, 2),
]  # fmt: skip
E820_3584M = [
    *E820_128M[:3], (0x100000, 0xBFEE0000, 1), (0xBFFE0000, 0x20000, 2),
    (0xFFFC0000, 0x40000, 2), (0x100000000, 0x20000000, 1),
]  # fmt: skip


@pytest.mark.parametrize(("mib", "expected"), [(128, E820_128M), (3584, E820_3584M)])
def test_e820_map(mib: int, expected: list[tuple[int, int, int]]) -> None:
    assert e820_entries(Machine(), System(mib * MIB)) == expected


@pytest.mark.parametrize(
    ("mib", "e801", "k88"),
    [(2, (0x380, 0), 0x380), (16, (0x3B80, 0), 0x3B80), (64, (0x3C00, 0x2FE), 0xFB80),
     (128, (0x3C00, 0x6FE), 0xFC00), (3584, (0x3C00, 0xBEFE), 0xFC00)],
)  # fmt: skip
def test_e801_and_88_as_measured(mib: int, e801: tuple[int, int], k88: int) -> None:
    m = Machine()
    service = System(mib * MIB)
    m.call(service, 0x15, ax=0xE801)
    assert (m.cpu.reg("ax"), m.cpu.reg("bx")) == e801 == (m.cpu.reg("cx"), m.cpu.reg("dx"))
    assert not m.cpu.flag("cf")
    m.call(service, 0x15, ax=0x8800)
    assert m.cpu.reg("ax") == k88 and not m.cpu.flag("cf")


def test_e820_refuses_bad_arguments() -> None:
    m = Machine()
    for regs in ({"edx": 0}, {"ecx": 19}, {"ebx": len(memmap.e820_map(RAM_SIZE))}):
        args = {"eax": 0xE820, "edx": 0x534D4150, "ebx": 0, "ecx": 20, **regs}
        m.cpu.set_flag("cf", False)
        assert m.call(S, 0x15, **args) is Outcome.DONE
        assert m.cpu.flag("cf") and m.cpu.reg("ah") == 0x86


def test_a20_functions_through_port_92() -> None:
    m = Machine()
    m.call(S, 0x15, ax=0x2402)
    assert m.cpu.reg("ax") == 0x0001 and not m.cpu.flag("cf")
    m.call(S, 0x15, ax=0x2400)
    assert m.cpu.reg("ax") == 0x0000 and m.port92.outport == 0 and m.a20[-1] == 0
    m.call(S, 0x15, ax=0x2402)
    assert m.cpu.reg("al") == 0
    m.call(S, 0x15, ax=0x2401)
    assert m.port92.outport == 0x02 and m.a20[-1] == 1
    m.call(S, 0x15, ax=0x2403, bx=0)
    assert (m.cpu.reg("ax"), m.cpu.reg("bx")) == (0x0003, 3)
    result = m.call(S, 0x15, ax=0x2404)
    assert isinstance(result, Unsupported) and result.what == "INT 15h AX=2404h"


def test_small_functions() -> None:
    m = Machine()
    m.cpu.set_flag("cf", False)
    m.call(S, 0x15, ax=0x4F1E)
    assert m.cpu.flag("cf") and m.cpu.reg("ax") == 0x4F1E  # process the key
    for ax in (0x9000, 0x9100):
        m.call(S, 0x15, ax=ax)
        assert m.cpu.flag("cf") and m.cpu.reg("ax") == ax  # not even CF changes
    m.call(S, 0x15, ax=0xC000)
    assert (m.cpu.seg("es"), m.cpu.reg("bx"), m.cpu.reg("ah")) == (0xF000, 0xE6F5, 0)
    assert m.mem.read_phys(0xFE6F5, 3) == b"\x08\x00\xfc"
    m.call(S, 0x15, ax=0xC100)
    assert m.cpu.seg("es") == 0x9FC0
    assert isinstance(m.call(S, 0x15, ax=0xFF00), Unsupported)


def test_wait_86h_in_virtual_time() -> None:
    m = Machine()
    assert m.call(S, 0x15, ax=0x8600, cx=0, dx=1000) is Outcome.WAIT
    assert waits.pending_deadline_ns(m.mem) == 1_000_000
    m.clock.advance(999_999)
    assert m.call(S, 0x15, ax=0x8600, cx=0, dx=1000) is Outcome.WAIT
    m.clock.advance(1)
    assert m.call(S, 0x15, ax=0x8600, cx=0, dx=1000) is Outcome.DONE
    assert not m.cpu.flag("cf") and waits.pending_deadline_ns(m.mem) is None


def test_block_move_87h() -> None:
    m = Machine()
    gdt = bytearray(48)
    gdt[0x10:0x18] = bytes((0xFF, 0xFF, 0x00, 0x70, 0x00, 0x93, 0, 0x00))  # 0x7000
    gdt[0x18:0x20] = bytes((0xFF, 0xFF, 0x00, 0x00, 0x10, 0x93, 0, 0x00))  # 0x100000
    m.mem.write_phys(0x5000, bytes(gdt))
    m.mem.write_phys(0x7000, b"block move!!")
    m.call(S, 0x15, ax=0x8700, cx=6, es=0x0500, si=0)
    assert m.mem.read_phys(0x100000, 12) == b"block move!!"
    assert m.cpu.reg("ah") == 0 and not m.cpu.flag("cf") and m.port92.a20


def test_port92_reset_edge() -> None:
    resets: list[bool] = []
    port = Port92(on_reset=lambda: resets.append(True))
    port.write(0, 1, 0x03)
    port.write(0, 1, 0x03)
    assert resets == [True] and port.read(0, 2) == 0xFF03
    port.reset()
    assert port.read(0, 1) == 0x02


def test_isapc_reserves_no_high_zone() -> None:
    """Linux under QEMU -M isapc prints RAM from 1 MiB to the top, then the flash."""
    from bt.bios import memmap

    got = [(e.base, e.length, e.kind) for e in memmap.e820_map(128 << 20, "isapc")]
    assert got[3:] == [(1 << 20, (127 << 20), 1), (0xFFFC0000, 0x40000, 2)]
    assert memmap.e820_map(128 << 20)[4].length == 128 << 10  # pc: SeaBIOS's high zone
    assert memmap.extended_kib(16 << 20, "isapc") == 15 << 10
