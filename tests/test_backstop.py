"""The backstop stops translated code on the CPU's own thread: at block starts, with nothing
half done, after an exact count, so a run with interrupts is the same on any host and load."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import keystone
import pytest
from test_platform import IDT_SETUP, pit_rate, run_flat
from unicorn import x86_const as R

from bt import runloop
from bt.backstop import Backstop
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig
from tools.backstop_check import TOP, consistent, loop_cpu


@pytest.mark.parametrize("native", [True, False], ids=["native-hook", "instruction-count"])
def test_budget_stops_leave_nothing_half_done(native: bool) -> None:
    """A loop that swaps a register through memory (tools/backstop_check.py: emu_start's
    timeout breaks it within a few stops) survives thousands of budget stops."""
    uc, size = loop_cpu()
    backstop = Backstop(uc, TOP, TOP + size - 1, native=native)
    if native and not backstop.native:
        pytest.skip("no native hook for this host")
    rng = random.Random(7)
    pc = TOP
    for _ in range(3000):
        count = backstop.arm(rng.randint(1, 40))
        uc.emu_start(pc, 0xFFFF, count=count)
        pc = uc.reg_read(R.UC_X86_REG_EIP)
        if native:
            # The loop is one Unicorn block: every stop is at its start, between passes.
            assert pc == TOP and backstop.expired()
            assert consistent(uc)
    if pc != TOP:
        uc.emu_start(pc, TOP)  # the instruction count stops anywhere: finish the pass
    assert consistent(uc)
    assert uc.reg_read(R.UC_X86_REG_EAX) > 3000


# IRQ 0 at about 1 kHz and a long loop that never enters the monitor between interrupts: each
# tick is delivered when the backstop finds the guest spinning with IF set (virtual time
# then moves to the timer's next event), so the tick count depends on the block count only.
TICKS = (
    IDT_SETUP
    + pit_rate(0x4A9)
    + """
    mov al, 0xfe
    out 0x21, al
    sti
    mov ecx, 40000000
spin:
    add ebx, ecx
    dec ecx
    jnz spin
    cli
    mov al, 0
    out 0xf4, al
handler:
    inc dword ptr [0x300000]
    push eax
    mov al, 0x20
    out 0x20, al
    pop eax
    iretd
"""
)


def _ticks(tmp_path: Path) -> tuple[int, int]:
    m, res = run_flat(tmp_path, TICKS)
    assert res.kind == "exit-port", res
    return int.from_bytes(m.memory.read(0x300000, 4), "little"), m.runloop.stats().backstops


def test_interrupts_during_pure_compute_do_not_depend_on_host_load(tmp_path: Path) -> None:
    ticks, backstops = _ticks(tmp_path)
    assert ticks > 10 and backstops >= ticks
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        loaded = _ticks(tmp_path)
    finally:
        for b in burners:
            b.kill()
            b.wait()
    assert loaded == (ticks, backstops)


# A loop with a RET and an indirect CALL (inline caches: Unicorn blocks that start inside one
# instruction's translation), port I/O and conditional branches. IF stays clear, so a stop
# never moves virtual time: the run must not change at all.
TRACED = """
    mov ecx, 300
    mov esi, func
again:
    call esi
    add ebx, eax
    test ecx, 3
    jnz skip
    in al, 0x61
skip:
    dec ecx
    jnz again
    mov al, 0
    out 0xf4, al
func:
    lea eax, [ecx + ecx * 2]
    ret
"""


@pytest.mark.parametrize("level", ["block", "insn"])
def test_backstop_stops_change_nothing_the_guest_or_a_trace_sees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: str
) -> None:
    """With a stop every two blocks instead of every million, the trace (no record twice, none
    missing) and the instruction count stay the same."""
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    path = tmp_path / "guest.bin"
    path.write_bytes(bytes(ks.asm(TRACED, 0x100000)[0]))

    def run(budget: int) -> tuple[bytes, int | None, int]:
        monkeypatch.setattr(runloop, "BACKSTOP_BLOCKS", budget)
        trace = tmp_path / f"{level}-{budget}.trace"
        image = load_guest(str(path), 16 << 20, "", 0x100000, None)
        m = Machine(
            MachineConfig(16 << 20, count_insns=True, trace_path=str(trace), trace_level=level),
            image,
            lambda _b: None,
        )
        res = m.run(max_insns=1_000_000)
        assert res.kind == "exit-port", res
        stats = m.runloop.stats()
        return trace.read_bytes(), stats.guest_insns, stats.backstops

    quiet = run(1 << 30)
    busy = run(2)
    assert quiet[2] == 0 and busy[2] > 1000
    assert busy[:2] == quiet[:2]
