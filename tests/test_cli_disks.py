"""The disk options of `bt run` (--fda/--fdb/--hda/--hdb/--boot/--snapshot, `bt run IMG`):
boot_plan's drives and boot drive, and one-line errors with status 2 for bad values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

from bt.bootplan import BootPlan, boot_plan, is_kernel_file
from bt.cliparser import build_parser
from bt.devices.diskimage import FLOPPY, HARD_DISK
from bt.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
BOOTABLE = bytes(510) + b"\x55\xaa"


def bt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bt.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def disk(tmp_path: Path, name: str, size: int, boot: bool = True) -> str:
    path = tmp_path / name
    with path.open("wb") as fh:
        fh.truncate(size)
        if boot:
            fh.write(BOOTABLE)
    return str(path)


def plan(*argv: str) -> BootPlan | None:
    return boot_plan(build_parser().parse_args(["run", *argv]))


def test_a_floppy_sized_guest_boots_as_drive_a(tmp_path: Path) -> None:
    p = plan(disk(tmp_path, "f.img", 1474560))
    assert p is not None and p.boot_drive == 0x00 and p.boot_sector == BOOTABLE
    assert set(p.drives) == {0} and p.drives[0].disk().kind == FLOPPY
    assert p.cmos_floppy == 0x40
    p.close()


def test_any_other_guest_image_boots_as_hard_disk_c(tmp_path: Path) -> None:
    fda = disk(tmp_path, "a.img", 737280)
    p = plan(disk(tmp_path, "h.img", 10 << 20), "--fda", fda)
    assert p is not None and p.boot_drive == 0x80
    assert p.drives[0x80].disk().kind == HARD_DISK and p.drives[0].disk().path == fda
    assert p.cmos_floppy == 0x40  # a 720K diskette sits in a 1.44 MB drive
    p.close()


def test_drive_numbering_and_boot_order(tmp_path: Path) -> None:
    a, b = disk(tmp_path, "a.img", 1474560), disk(tmp_path, "b.img", 368640)
    hdb = disk(tmp_path, "d.img", 1 << 20)
    p = plan("--fda", a, "--fdb", b, "--hdb", hdb)
    assert p is not None
    assert p.boot_drive == 0x80  # QEMU's "cad": the hard disk first
    assert p.drives[0x80].unit == 1  # a lone --hdb is 0x80, the channel's slave
    assert p.cmos_floppy == 0x42
    p.close()
    p = plan("--fda", a, "--hdb", hdb, "--boot", "a")
    assert p is not None and p.boot_drive == 0x00
    p.close()
    p = plan("--fdb", b, "--hda", hdb)
    assert p is not None and p.drives[0].image is None  # drive A: is there, empty
    assert p.cmos_floppy == 0x52
    p.close()


def test_a_floppy_boots_without_signature_but_a_guest_image_needs_one(tmp_path: Path) -> None:
    blank = disk(tmp_path, "blank.img", 1474560, boot=False)
    p = plan("--fda", blank)
    assert p is not None and p.boot_sector == bytes(512)  # SeaBIOS: no floppy signature check
    p.close()
    with pytest.raises(BadInput, match="no boot signature"):
        plan(blank)
    with pytest.raises(BadInput, match="--hda .*: no boot signature"):
        plan("--hda", disk(tmp_path, "hd.img", 1 << 20, boot=False))


def test_kernels_stay_kernels(tmp_path: Path) -> None:
    kernel = str(BIN / "flags.elf")
    assert is_kernel_file(kernel)
    assert plan(kernel) is None
    p = plan(kernel, "--hda", disk(tmp_path, "h.img", 1 << 20))
    assert p is not None and p.boot_drive is None and p.boot_sector == b""
    p.close()
    assert plan() is None  # the demo


def test_snapshot_opens_every_image_with_an_overlay(tmp_path: Path) -> None:
    p = plan("--snapshot", "--fda", disk(tmp_path, "a.img", 1474560))
    assert p is not None and all(image.snapshot for image in p.images())
    p.close()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--fda", "{t}/none.img"], "--fda {t}/none.img: cannot open: No such file or directory"),
        (["--fda", "{t}/mib.img"], "--fda {t}/mib.img: 1024K is no floppy format"),
        (["--hda", "{t}/empty.img"], "--hda {t}/empty.img: empty disk image"),
        (["--hda", "{t}/odd.img"], "is not a whole number of 512-byte sectors"),
        (["--boot", "x"], "argument --boot: invalid choice: 'x'"),
        (["--boot", "a", "--hda", "{t}/mib.img"], "--boot a: no diskette in drive A:"),
        (["--boot", "c", "--fda", "{t}/f.img"], "--boot c: no hard disk"),
        (["--fdb", "{t}/f.img"], "no drive to boot: drive A: is empty"),
        (["--hda", "{t}/mib.img", "--hdb", "{t}/mib.img"], "is already attached as --hda"),
        (["{t}/f.img", "--fda", "{t}/f2.img"], "would boot as drive A:, which --fda"),
        (["{t}/odd.img"], "{t}/odd.img: not a Multiboot kernel or ELF file"),
        (
            ["{t}/blank.img"],
            "{t}/blank.img: not a kernel (no ELF or Multiboot header) nor a disk "
            "image (no boot signature",
        ),
        ([str(BIN / "flags.elf"), "--boot", "c"], "is a kernel, not a disk to boot"),
    ],
)
def test_bad_values_get_one_line_and_status_2(tmp_path: Path, args: list[str], words: str) -> None:
    disk(tmp_path, "mib.img", 1 << 20)
    disk(tmp_path, "f.img", 1474560)
    disk(tmp_path, "f2.img", 1474560)
    disk(tmp_path, "empty.img", 0, boot=False)
    disk(tmp_path, "odd.img", 1000, boot=False)
    disk(tmp_path, "blank.img", 1474560, boot=False)
    proc = bt("run", *(a.format(t=tmp_path) for a in args))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert words.format(t=tmp_path) in lines[0], lines[0]


def test_default_order_falls_back_to_the_diskette_when_the_disk_has_no_signature(
    tmp_path: Path,
) -> None:
    # QEMU's "cad": the hard disk first; SeaBIOS finds no boot signature there and boots A:.
    floppy = disk(tmp_path, "a.img", 1474560, boot=True)
    p = plan("--fda", floppy, "--hda", disk(tmp_path, "hd.img", 1 << 20, boot=False))
    assert p is not None and p.boot_drive == 0x00
    p.close()
    p = plan("--fda", floppy, "--hda", disk(tmp_path, "hd2.img", 1 << 20, boot=True))
    assert p is not None and p.boot_drive == 0x80
    p.close()
