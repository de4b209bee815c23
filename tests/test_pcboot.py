"""The boot guests (guests/boot/) booted by bt's built-in BIOS from their floppy and disk images:
each prints on COM1 and leaves on screen what it does under QEMU and SeaBIOS (references by
tools/qemu_boot_ref.py), and exits with the same status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from qemu_boot_ref import GUESTS, load_reference  # noqa: E402

# Instructions bound the runs (the slowest, keys, runs about 4 million).
MAX_INSNS = "60000000"


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_boot_guest_matches_qemu(name: str) -> None:
    spec = GUESTS[name]
    proc = subprocess.run(
        [sys.executable, "-m", "bt.cli", "run", *spec.bt_args(), "--max-insns", MAX_INSNS],
        capture_output=True,
        cwd=ROOT,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    ref = load_reference(name)
    assert proc.stderr.decode() == ""
    assert proc.stdout.decode(errors="replace") == (
        ref.serial + ref.screen.encode() + b"\n"
    ).decode(errors="replace")
    assert proc.returncode == ref.status


def test_disk_boot_stats_name_the_bios_services(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bt.cli", "run", *GUESTS["disk"].bt_args(), "--stats"],
        capture_output=True,
        cwd=ROOT,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    err = proc.stderr.decode()
    assert "BIOS services:" in err
    assert "  INT 13h AH=42h: " in err and "  INT 10h AH=0Eh: " in err
    assert "INT 13h sectors: " in err
    # Real-mode deliveries are named as such: vector 8 is IRQ 0 and 13h a BIOS call here.
    assert "INT 13h (real mode): " in err and "#DF" not in err
