"""guests/ide.asm under bt prints what it prints under QEMU -M pc and -M isapc with the same
disks (tools/qemu_ide_ref.py made the reference); the disks are shared with INT 13h's table;
--snapshot keeps the guest's writes off the files, and without it they land there."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

from bt.bootplan import boot_plan
from bt.cliparser import build_parser
from tools.qemu_ide_ref import disk_bytes, make_disks

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
EXPECTED = ROOT / "guests" / "expected" / "ide"
MAX_INSNS = "2000000"  # ten times the guest's 179,070 instructions


def run_ide(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    disks = make_disks(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "bt.cli", "run", "ide.elf", "--hda", str(disks["hda"])]
        + ["--hdc", str(disks["hdc"]), "--max-insns", MAX_INSNS, *extra],
        cwd=BIN,
        capture_output=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.parametrize("machine", ["pc", "isapc"])
def test_ide_guest_matches_qemu(tmp_path: Path, machine: str) -> None:
    proc = run_ide(tmp_path, "--snapshot", "--machine", machine)
    suffix = "" if machine == "pc" else "@isapc"
    assert proc.stderr == b""
    assert proc.stdout.decode() == (EXPECTED / f"ide{suffix}.serial").read_text()
    assert proc.returncode == int((EXPECTED / f"ide{suffix}.status").read_text())
    assert (tmp_path / "hda.img").read_bytes() == disk_bytes(8192)  # --snapshot: untouched


def test_without_snapshot_the_writes_reach_the_image(tmp_path: Path) -> None:
    proc = run_ide(tmp_path, "--stats")
    assert proc.returncode == 1, proc.stderr
    assert b"stats: IDE sectors: 27 read, 5 written" in proc.stderr
    data = (tmp_path / "hda.img").read_bytes()
    assert data[500 * 512 : 500 * 512 + 8] == bytes.fromhex("0000005a0400005a")
    assert data[600 * 512 : 601 * 512] == data[500 * 512 : 501 * 512]  # WRITE MULTIPLE's copy


def test_int13_and_the_controller_share_each_image(tmp_path: Path) -> None:
    disks = make_disks(tmp_path)
    args = ["run", "k.elf", "--hda", str(disks["hda"]), "--hdd", str(disks["hdc"]), "--snapshot"]
    plan = boot_plan(build_parser().parse_args(args))
    assert plan is not None and plan.boot_drive is None  # a kernel boots; the disks stay
    ide = plan.ide_images()
    assert ide[0] is plan.drives[0x80].image and ide[3] is plan.drives[0x81].image
    assert ide[1] is None and ide[2] is None and plan.drives[0x81].unit == 3
    assert ide[0] is not None
    ide[0].write(5, b"\x77" * 512)  # a write through either is seen by the other
    assert plan.drives[0x80].disk().read(5, 1) == b"\x77" * 512
    plan.close()


@pytest.mark.parametrize("machine", ["pc", "isapc"])
def test_a_boot_sector_sees_one_disk_through_int13_and_the_ports(
    tmp_path: Path, machine: str
) -> None:
    boot = make_disks(tmp_path)["boot"]
    proc = subprocess.run(
        [sys.executable, "-m", "bt.cli", "run", str(boot), "--snapshot", "--machine", machine]
        + ["--max-insns", "1000000"],
        cwd=BIN,
        capture_output=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    suffix = "" if machine == "pc" else "@isapc"
    assert proc.stderr == b""
    assert proc.stdout == (EXPECTED / f"ide_boot{suffix}.serial").read_bytes()
    assert b" differ" not in proc.stdout and proc.stdout.count(b" same\n") == 3
    assert proc.returncode == int((EXPECTED / f"ide_boot{suffix}.status").read_text())
