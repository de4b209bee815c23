"""GRUB 2 from Debian's grub-pc-bin boots in the engine and loads a Multiboot kernel.

The image is built by tools/mkgrubimg.py in a temporary directory (nothing of Debian's is
committed): a hard disk as grub-install makes one, and grub-mkrescue's hybrid ISO booted as a
hard disk; the run is `bt run --hda IMG --snapshot` with GRUB's console on COM1. The kernel's
output after GRUB's lines equals its QEMU reference (guests/expected/ckernel.serial, made with
the same command line) and GRUB's lines equal QEMU's boot of the same image
(guests/expected/grub.serial, tools/qemu_grub.py) when the installed GRUB is the version that
reference names (both kinds print the same). A boot runs 69 million (disk) or 73
million (ISO) guest instructions and is bounded by the kernel's own exit, as ckernel alone
is (tests/limits.py UNCOUNTED: counting costs more than the boot).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from mkgrubimg import (  # noqa: E402
    BUILDERS,
    DEFAULT_ARGS,
    DISK_TOOLS,
    ISO_TOOLS,
    missing_tools,
    partition_entry,
)
from qemu_grub import first_difference, load_expected, versions  # noqa: E402

KERNEL = ROOT / "guests" / "bin" / "ckernel.elf"
FIRST_LINE = b"ckernel: hello from C"
# GRUB's fixed menu entry title in the configuration mkgrubimg writes.
BOOTING = b"Booting `bt kernel'"

KINDS = [
    pytest.param(kind, marks=pytest.mark.skipif(why is not None, reason=str(why)))
    for kind, why in (("disk", missing_tools(DISK_TOOLS)), ("iso", missing_tools(ISO_TOOLS)))
]


def test_bad_kernel_is_a_one_line_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "mkgrubimg.py"), str(tmp_path / "x.img")]
        + ["--kernel", str(tmp_path / "missing.elf")],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "mkgrubimg: error:" in proc.stderr and "Traceback" not in proc.stderr


def test_partition_entry_is_lba_addressed_and_bootable() -> None:
    entry = partition_entry(2048, 32768, 0x0E)
    assert len(entry) == 16 and entry[0] == 0x80 and entry[4] == 0x0E
    assert entry[8:12] == (2048).to_bytes(4, "little")
    assert entry[12:16] == (32768).to_bytes(4, "little")


@pytest.mark.parametrize("kind", KINDS)
def test_grub_boots_ckernel_as_under_qemu(tmp_path: Path, kind: str) -> None:
    image = tmp_path / f"grub.{kind}"
    BUILDERS[kind](image, KERNEL, DEFAULT_ARGS)
    mbr = image.read_bytes()[:512]
    assert mbr[510:] == b"\x55\xaa"
    if kind == "disk":
        assert mbr[0x5C:0x64] == (1).to_bytes(8, "little")
    proc = subprocess.run(
        [sys.executable, "-m", "bt", "run", "--hda", str(image), "--snapshot", "--stats"],
        capture_output=True,
        cwd=ROOT,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
    )
    out, err = proc.stdout, proc.stderr.decode()
    assert FIRST_LINE in out, out[-2000:]
    grub, kernel = out[: out.index(FIRST_LINE)], out[out.index(FIRST_LINE) :]
    assert kernel == (ROOT / "guests" / "expected" / "ckernel.serial").read_bytes()
    assert proc.returncode == int((ROOT / "guests" / "expected" / "ckernel.status").read_text())
    assert BOOTING in grub and b"error" not in grub
    header, reference = load_expected()
    if versions().split(" | ")[1] in header:  # GRUB's lines are those of the reference's GRUB
        assert first_difference(reference, out) is None and out == reference
    # GRUB reads its core image, modules, configuration and the kernel by INT 13h's LBA
    # extensions, and asks for the memory map and the VBE state before it boots the kernel.
    for service in ("INT 13h AH=41h", "INT 13h AH=42h", "INT 15h AH=E8h", "INT 10h AH=4Fh"):
        assert f"  {service}: " in err, err
    assert "Can't get controller info" not in out.decode(errors="replace")
