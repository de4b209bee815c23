"""guests/tsc.asm: the TSC measured against the PIT and the RTC as kernels measure it finds the
documented rate (bt/timebase.py TSC_HZ) to the digit, on every run; the RTC's update cycle and
the agreement of the rates equal QEMU's (guests/expected/tsc.qemu, tools/qemu_ref.py HOST_TIMED).

The guest ends itself: under virtual time its waits (HLT to the next timer event, polling that
moves the clock a microsecond a read) do the same work on every run, so it is bounded by its own
program, as the uncounted guests of tests/limits.py are.
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

from limits import HANG_GUARD

from bt.timebase import TSC_HZ

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
EXPECTED = ROOT / "guests" / "expected"
MHZ = TSC_HZ // 1_000_000


@cache
def _run(n: int = 0) -> subprocess.CompletedProcess[bytes]:
    """The guest's `n`-th run under the engine (each run once per test session)."""
    return subprocess.run(
        [sys.executable, "-m", "bt.cli", "run", "tsc.elf"],
        cwd=BIN,
        capture_output=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def _comparable(serial: str) -> list[str]:
    return [line for line in serial.splitlines() if not line.startswith("~")]


def test_tsc_guest_finds_the_documented_rate_on_every_run() -> None:
    first, second = _run(0), _run(1)
    assert first.stderr == b"" and first.returncode == 1
    assert first.stdout == second.stdout  # virtual time: the same counts on every run
    out = first.stdout.decode()
    for what in (
        "quick_pit_calibrate",
        "pit_calibrate_tsc",
        "memtest86+ pit",
        "tsc over one rtc second",
    ):
        assert f"~ {what}: {MHZ} MHz\n" in out
    # UIP rises 244 us (8 cycles of 32768 Hz) before the update; the guest polls at 2 us a read.
    lead = int(out.split("~ rtc uip lead us=")[1].split()[0])
    assert 242 <= lead <= 246
    assert "~ rtc periodic per_second=1024\n" in out
    # Linux's delay-loop calibration converges on a count the backstop's budget sets.
    assert "~ calibrate_delay: lpj=" in out


def test_tsc_guest_rtc_and_agreement_equal_qemu() -> None:
    proc = _run()
    want = (EXPECTED / "tsc.qemu").read_text()
    assert _comparable(proc.stdout.decode()) == _comparable(want)
    assert proc.returncode == int((EXPECTED / "tsc.status").read_text())
