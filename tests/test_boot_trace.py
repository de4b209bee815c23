"""The boot guests' instruction traces equal QEMU's from the boot sector's entry on, each BIOS
call one step: both record conventional memory only (bt.tracefile.BOOT_WINDOW), SeaBIOS's code
and bt's ROM stubs lie outside it (references: tools/qemu_trace.py, guests/traces/boot/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

from bt.tracediff import diff_traces, format_diff

ROOT = Path(__file__).resolve().parent.parent
BOOT = ROOT / "guests" / "boot"
TRACES = ROOT / "guests" / "traces" / "boot"
GUESTS = sorted(p.name.removesuffix(".trace.gz") for p in TRACES.glob("*.trace.gz"))
MAX_INSNS = "20000000"  # thunk, the longest, runs about 90,000 guest instructions


def _trace(name: str, out: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bt.cli", "run", f"{name}.img", "--serial", "none"]
        + ["--trace", str(out), "--trace-level", "insn", "--max-insns", MAX_INSNS, *extra],
        cwd=BOOT,
        capture_output=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT)},
    )


@pytest.mark.parametrize("name", GUESTS)
def test_boot_trace_equals_qemu(name: str, tmp_path: Path) -> None:
    out = tmp_path / f"{name}.trace.gz"
    proc = _trace(name, out)
    assert proc.returncode == 1, proc.stderr
    result = diff_traces(str(TRACES / f"{name}.trace.gz"), str(out))
    assert result.equal, format_diff(result)
    assert result.compared > 4000


def test_boot_guests_have_references() -> None:
    assert GUESTS == ["hello", "modes", "thunk"]


def test_trace_filter_keeps_the_bios_out(tmp_path: Path) -> None:
    # The whole address space recorded: the ROM's entry stubs at F000 show up, so the trace
    # is no longer QEMU's (whose own BIOS code is another).
    out = tmp_path / "hello.trace.gz"
    proc = _trace("hello", out, "--trace-filter", "0..0xffffffff")
    assert proc.returncode == 1, proc.stderr
    result = diff_traces(str(TRACES / "hello.trace.gz"), str(out))
    assert not result.equal
    assert "0x0000f0" in format_diff(result)  # B is in the ROM where A returned from INT


def test_trace_filter_rejects_bad_ranges() -> None:
    for bad in ("0x500", "0x9000..0x500", "zz+1"):
        proc = _trace("hello", Path("/dev/null"), "--trace-filter", bad)
        assert proc.returncode == 2
        assert b"--trace-filter" in proc.stderr and b"Traceback" not in proc.stderr
