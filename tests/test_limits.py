"""Limits hold whatever the guest does: --timeout, SIGINT/SIGTERM and --max-insns end a runaway
guest with a one-line report; the translation cache stays inside its host-memory budget and keeps
nothing per invalidation (guests/runaway.asm)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

from bt.loader import load_guest
from bt.machine import Machine, MachineConfig

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
GUEST = str(BIN / "runaway.elf")
ENV = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}

# Where each endless guest can be when it is stopped (guests/runaway.asm's code is at 1 MiB).
RUNAWAY = {
    "unassigned": lambda eip: eip >= 0x40000000,  # in the zeros past the jump
    "portloop": lambda eip: 0x100000 <= eip < 0x101000,
    "spin": lambda eip: 0x100000 <= eip < 0x101000,
}


def _bt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bt.cli", "run", GUEST, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env=ENV,
    )


def _report(stderr: str) -> tuple[int, str]:
    """The guest EIP and the reason of the one-line report."""
    lines = [ln for ln in stderr.splitlines() if not ln.startswith("stats:")]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    head, why = lines[0].split(": ", 1)[1].split(": ", 1)
    assert head.startswith("guest stopped at 0x"), lines[0]
    return int(head.rsplit(" ", 1)[1], 16), why


@pytest.mark.parametrize("mode", sorted(RUNAWAY))
def test_timeout_stops_a_guest_that_never_ends(mode: str) -> None:
    # These guests never end by themselves: only the limit can stop them, on any host.
    proc = _bt("--append", mode, "--timeout", "1", "--stats")
    assert proc.returncode == 6, proc.stderr
    eip, why = _report(proc.stderr)
    assert why == "time limit reached (1 s)"
    assert RUNAWAY[mode](eip), hex(eip)
    assert "stats: run: limit (status 6)" in proc.stderr


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("mode", ["spin", "unassigned"])
def test_a_signal_ends_the_run_with_a_report(mode: str, signum: int, status: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bt.cli", "run", GUEST, "--append", mode, "--stats"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the guest is running once it has printed its line
        assert first.startswith(("spinning", "jumping")), first
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=HANG_GUARD)
    finally:
        proc.kill()
    assert proc.returncode == status, err
    eip, why = _report(err)
    assert why == f"stopped by {signal.Signals(signum).name}"
    assert eip >= 0x100000, hex(eip)  # wherever the signal found it: still printing, or on


def test_instruction_limit_stops_a_guest_that_only_reaches_new_code() -> None:
    proc = _bt("--append", "unassigned", "--max-insns", "50000")
    assert proc.returncode == 6, proc.stderr
    eip, why = _report(proc.stderr)
    assert why == "instruction limit reached (50000)" and eip >= 0x40000000


def _machine(mode: str) -> Machine:
    mem = 64 << 20
    return Machine(MachineConfig(mem), load_guest(GUEST, mem, mode, None, None), lambda _b: None)


def test_distinct_blocks_stay_inside_the_host_budget() -> None:
    out = bytearray()
    mem = 64 << 20
    m = Machine(
        MachineConfig(mem, cache_size=1 << 20),
        load_guest(GUEST, mem, "fewblocks", None, None),
        out.extend,
    )
    peak = [0]
    m.cache.before_flush.append(
        lambda: peak.__setitem__(0, max(peak[0], m.cache.stats().host_bytes))
    )
    result = m.run(max_insns=2_000_000)  # 65,536 distinct blocks once: about 800,000
    assert result.kind == "exit-port", result
    assert b"incs/2=0x00030000" in out  # every block ran once, in order
    s = m.cache.stats()
    assert s.flushes >= 100 and s.host_budget == 1 << 20
    assert 0 < peak[0] <= s.host_budget and s.host_bytes <= s.host_budget
    assert s.capacity <= 1 << 20  # a small budget shrinks the code region too


def test_self_modifying_loop_keeps_nothing_per_invalidation() -> None:
    m = _machine("smc")
    m.run(max_insns=30_000)
    first, used = m.cache.stats(), m.codebuf.stats()
    samples = []
    for k in range(2, 10):  # thousands more rewrites of the same function
        m.run(max_insns=k * 30_000)  # the limit counts from the start
        samples.append(m.cache.stats())
    last, now = samples[-1], m.codebuf.stats()
    assert last.invalidations - first.invalidations > 5_000
    assert last.flushes == 0
    # What is live depends only on where the loop stood when it was sampled (how far the
    # guest got through its command line decides that: the file name is on it), never on how
    # many rewrites came before: each sample stays within a few blocks of the first.
    for s in samples:
        assert abs(s.blocks - first.blocks) <= 8, (first, s)
        assert abs(s.host_bytes - first.host_bytes) <= 8 * 8000, (first, s)
    assert now.high_water - used.high_water <= 256  # the rewritten block reuses its space
    assert len(m.cache.history) <= m.cache.HISTORY
