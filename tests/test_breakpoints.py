"""Debug-register breakpoints: what DR7 enables, which accesses a data or I/O breakpoint
matches, the DR6 a hit leaves, and the engine's memory hook existing only while a data
breakpoint is enabled (guests/watchpoints.asm and guests/debugregs.asm check the guest's view
against QEMU)."""

from __future__ import annotations

from pathlib import Path

import keystone

from bt.breakpoints import (
    Watch,
    data_hits,
    data_watches,
    hit_dr6,
    instruction_breakpoints,
    io_hits,
    io_watches,
    trap_dr6,
)
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig

DR6_RESET, DR7_RESET = 0xFFFF0FF0, 0x400


def _dr(dr7: int, *addrs: int) -> list[int]:
    regs = [*addrs, *([0] * (4 - len(addrs)))]
    return [*regs, DR6_RESET, DR7_RESET, DR6_RESET, dr7]


def _field(n: int, rw: int, len_bits: int) -> int:
    return (rw | len_bits << 2) << (16 + 4 * n)


def test_each_kind_of_breakpoint_is_told_apart() -> None:
    # L0 execute; DR1 a write watch but disabled; G2 a 4-byte read/write watch; G3 an I/O one.
    dr7 = 0x1 | _field(1, 1, 0) | 0x20 | _field(2, 3, 3) | 0x80 | _field(3, 2, 1)
    dr = _dr(dr7, 0x1000, 0x2000, 0x3002, 0x61)
    assert instruction_breakpoints(dr) == {0x1000}
    # The 4-byte range is aligned down (SDM 17.2.5), as the 2-byte I/O range is.
    assert data_watches(dr) == (Watch(2, 0x3000, 4, False),)
    assert io_watches(dr) == (Watch(3, 0x60, 2, False),)


def test_lengths_one_two_eight_and_four() -> None:
    for bits, size in ((0, 1), (1, 2), (2, 8), (3, 4)):
        (w,) = data_watches(_dr(0x2 | _field(0, 1, bits), 0x5007))
        assert (w.start, w.size, w.writes_only) == (0x5007 & ~(size - 1), size, True)


def test_an_access_matches_every_breakpoint_it_touches() -> None:
    watches = (Watch(0, 0x100, 4, True), Watch(1, 0x104, 4, False), Watch(3, 0x200, 8, False))
    assert data_hits(watches, 0x102, 4, True) == 0b0011  # straddles DR0's and DR1's ranges
    assert data_hits(watches, 0x102, 4, False) == 0b0010  # DR0 watches writes only
    assert data_hits(watches, 0xFD, 4, True) == 0b0001  # its last byte is DR0's first
    assert data_hits(watches, 0xFC, 4, True) == 0
    assert data_hits(watches, 0x108, 1, True) == 0
    assert data_hits(watches, 0x207, 2, False) == 0b1000
    assert io_hits((Watch(0, 0xE8, 4, False), Watch(2, 0xE9, 1, False)), 0xE7, 2) == 0b0001


def test_a_trap_replaces_b0_b3_and_keeps_the_rest() -> None:
    assert trap_dr6(DR6_RESET | 0x4000 | 0x4, 0x3) == DR6_RESET | 0x4000 | 0x3
    # An instruction breakpoint's B bits are those of every execute breakpoint at the address.
    dr = _dr(0x3 | 0xC, 0x1000, 0x1000)
    dr[6] = DR6_RESET | 0x4  # a stale B2 from an earlier hit goes, as on QEMU
    assert hit_dr6(dr, 0x1000) == DR6_RESET | 0x3
    assert hit_dr6(dr, 0x2000) == DR6_RESET


def test_the_memory_hook_lives_only_while_a_data_breakpoint_is_enabled(tmp_path: Path) -> None:
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    arm = "mov eax, 0x200000; mov dr0, eax; mov eax, 0xd0002; mov dr7, eax; "
    code = bytes(ks.asm(arm + "mov dword ptr [0x200100], eax; hlt", 0)[0])
    disarm = bytes(ks.asm("xor eax, eax; mov dr7, eax; hlt", 0)[0])
    path = tmp_path / "guest.bin"
    path.write_bytes(code + disarm)
    image = load_guest(str(path), 64 << 20, "", 0x100000, None)
    m = Machine(MachineConfig(64 << 20), image, print)
    watch = m.runloop.dispatch.watch
    # The guest halts with IF clear: the run ends there, with the watch armed.
    assert m.run(max_insns=1000).kind == "halt"
    assert watch.hooked and m.keys.one_insn
    assert watch.data == (Watch(0, 0x200000, 4, True),)
    m.runloop.state.eip = 0x100000 + len(code)
    assert m.run(max_insns=1000).kind == "halt"
    assert not watch.hooked and not m.keys.one_insn and watch.data == ()
