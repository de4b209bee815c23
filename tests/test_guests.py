"""Every guest in guests/ prints under the engine exactly what it prints under QEMU, and exits
with the same status (references made by tools/qemu_ref.py and committed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD, limit_args

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
EXPECTED = ROOT / "guests" / "expected"
GUEST_ARGS = {
    "ckernel": ["--append", "bt test cmdline"],
    "serialout": ["--append", "16384"],
    "serialpoll": ["--append", "16384"],
}
MACHINES = {"pc", "isapc"}  # NAME@MACHINE: --machine (tools/qemu_ref.py MACHINE_VARIANTS)
SLOW = {"pagebench"}  # a benchmark (78 million instructions): tools/bench.py runs it
# Compared in tests/test_csoverride.py, where QEMU 7.2 skips the segment checks the Intel SDM
# requires (writes through CS, CS limit, execute-only CS).
NOT_QEMU = {"csoverride"}


def _guests() -> list[str]:
    """The Multiboot guests (boot sectors, guests/bin/*.img: tests/test_realmode.py)."""
    skip = SLOW | NOT_QEMU
    return sorted(
        p.stem
        for p in EXPECTED.glob("*.serial")
        if p.stem not in skip and (BIN / f"{p.stem.partition('@')[0]}.elf").is_file()
    )


def run_bt(
    *args: str, cwd: Path = BIN, timeout: float = HANG_GUARD
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m bt.cli` (the `bt` console script) and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "bt.cli", *args],
        cwd=cwd,
        capture_output=True,
        timeout=timeout,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.parametrize("name", _guests())
def test_guest_matches_qemu(name: str) -> None:
    # QEMU passes the kernel file name as given on its command line: run from guests/bin, as
    # tools/qemu_ref.py does, so the command lines match.
    # NAME@MODEL: guests/bin/NAME.elf on CPU model MODEL (tools/qemu_ref.py CPU_VARIANTS).
    binary, _, cpu = name.partition("@")
    cpu_args = ["--machine" if cpu in MACHINES else "--cpu", cpu] if cpu else []
    proc = run_bt(
        "run", f"{binary}.elf", *cpu_args, *limit_args(binary), *GUEST_ARGS.get(binary, [])
    )
    expected = (EXPECTED / f"{name}.serial").read_bytes()
    status = int((EXPECTED / f"{name}.status").read_text())
    assert proc.stderr == b""
    assert proc.stdout.decode(errors="replace") == expected.decode(errors="replace")
    assert proc.returncode == status


def test_default_run_is_the_demo() -> None:
    proc = run_bt("run", *limit_args("demo"))
    assert proc.returncode == 0, proc.stderr  # the demo's exit-port 0 (QEMU: 1) is success
    assert proc.stdout == (EXPECTED / "demo.serial").read_bytes()
