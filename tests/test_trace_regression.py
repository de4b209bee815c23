"""Regression suite: each guest's instruction-level trace under the engine equals the reference
trace QEMU recorded for it (guests/traces/, made by tools/qemu_trace.py).

Not included: fidelity (it reads RDTSC, whose values differ by design), pcdevices (it reads
the PIT, which QEMU drives from host time), and smc: after a write that hits the block being
executed, EFLAGS differ from QEMU's at 0x1002df (the arithmetic flags computed before the
write are lost on the write-fault path; a known bug, see the README).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bt.tracediff import diff_traces, format_diff

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
TRACES = ROOT / "guests" / "traces"
EXCLUDED = {"fidelity", "smc"}
GUESTS = sorted(p.name.removesuffix(".trace.gz") for p in TRACES.glob("*.trace.gz"))


@pytest.mark.parametrize("name", [g for g in GUESTS if g not in EXCLUDED])
def test_trace_equals_qemu(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.trace.gz"
    proc = subprocess.run(
        [sys.executable, "-m", "bt.cli", "run", f"{name}.elf", "--serial", "none",
         "--trace", str(out), "--trace-level", "insn"],
        cwd=BIN, capture_output=True, timeout=300, env={"PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 1, proc.stderr
    result = diff_traces(str(TRACES / f"{name}.trace.gz"), str(out))
    assert result.equal, format_diff(result)
    assert result.compared > 5000


def test_known_divergence_is_still_there(tmp_path: Path) -> None:
    # When this fails, the SMC flags bug is fixed: move smc back into the suite above.
    out = tmp_path / "smc.trace.gz"
    subprocess.run([sys.executable, "-m", "bt.cli", "run", "smc.elf", "--serial", "none",
                    "--trace", str(out), "--trace-level", "insn"], cwd=BIN,
                   capture_output=True, timeout=300, env={"PYTHONPATH": str(ROOT)})
    result = diff_traces(str(TRACES / "smc.trace.gz"), str(out))
    assert not result.equal and result.eip == 0x1002DF
    assert [d.reg for d in result.regs] == ["eflags"]
