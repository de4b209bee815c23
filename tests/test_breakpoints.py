"""Debug-register breakpoints: what DR7 enables, the DR6 a hit leaves, and the report for the
kinds the engine does not do yet (guests/debugregs.asm checks instruction breakpoints against
QEMU)."""

from __future__ import annotations

from pathlib import Path

import keystone

from bt.breakpoints import hit_dr6, instruction_breakpoints, unsupported_breakpoint
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig

DR6_RESET, DR7_RESET = 0xFFFF0FF0, 0x400


def _dr(dr7: int, *addrs: int) -> list[int]:
    regs = [*addrs, *([0] * (4 - len(addrs)))]
    return [*regs, DR6_RESET, DR7_RESET, DR6_RESET, dr7]


def test_only_enabled_execute_breakpoints_count() -> None:
    # L0 (bit 0), G2 (bit 5); DR1 is disabled; DR3 enabled but a write watchpoint (R/W3 = 01).
    dr = _dr(0x1 | 0x20 | 0x40 | 1 << 28, 0x1000, 0x2000, 0x3000, 0x4000)
    assert instruction_breakpoints(dr) == {0x1000, 0x3000}
    assert unsupported_breakpoint(dr) == "a data breakpoint (DR7 R/W3=1)"
    assert unsupported_breakpoint(_dr(0x1 | 0x20, 0x1000, 0, 0x3000)) is None
    assert unsupported_breakpoint(_dr(0x2 | 2 << 16, 0x60)) == "an I/O breakpoint (DR7 R/W0=2)"


def test_a_hit_sets_the_matching_b_bits_only() -> None:
    dr = _dr(0x3 | 0xC, 0x1000, 0x1000)
    dr[6] = DR6_RESET | 0x4  # a stale B2 from an earlier hit goes, as on QEMU
    assert hit_dr6(dr, 0x1000) == DR6_RESET | 0x3
    assert hit_dr6(dr, 0x2000) == DR6_RESET


def test_a_data_breakpoint_is_reported_not_ignored(tmp_path: Path) -> None:
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    code = bytes(ks.asm("mov eax, 0x200000; mov dr0, eax; mov eax, 0x10002; mov dr7, eax", 0)[0])
    path = tmp_path / "guest.bin"
    path.write_bytes(code + b"\xf4")
    m = Machine(MachineConfig(64 << 20), load_guest(str(path), 64 << 20, "", 0x100000, None), print)
    result = m.run(max_insns=1000)
    assert result.kind == "crash"
    assert result.message == "a data breakpoint (DR7 R/W0=1)"
    assert result.eip == 0x100000 + len(code) - 3  # the MOV to DR7
