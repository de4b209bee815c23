"""GRUB 2 (Debian's grub-pc-bin) and SYSLINUX (Debian's syslinux) boot in the engine and load a
Multiboot kernel.

The images are built in a temporary directory (nothing of Debian's is committed): by
tools/mkgrubimg.py a hard disk as grub-install makes one and grub-mkrescue's hybrid ISO, both
booted as hard disk C:, and by tools/mksyslinuximg.py a FAT12 floppy with SYSLINUX and
mboot.c32, booted from A:; the bootloaders' consoles are on COM1. The kernel's output after
the bootloader's lines equals its QEMU reference (guests/expected/ckernel.serial, made with the
same command line), and the whole COM1 log equals QEMU's boot of the same image
(guests/expected/grub.serial or syslinux.serial, tools/qemu_bootloader.py) when the installed
bootloader is the version that reference names. A boot runs 69 million (GRUB disk), 73 million
(GRUB ISO) or 38 million (SYSLINUX) guest instructions and is bounded by the kernel's own
exit, as ckernel alone is (tests/limits.py UNCOUNTED: counting costs more than the boot).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import mkgrubimg  # noqa: E402
import mksyslinuximg  # noqa: E402
from qemu_bootloader import (  # noqa: E402
    DEFAULT_ARGS,
    KINDS,
    first_difference,
    load_expected,
    versions,
)

KERNEL = ROOT / "guests" / "bin" / "ckernel.elf"
FIRST_LINE = b"ckernel: hello from C"
# What each bootloader prints before the kernel (mkgrubimg's menu entry title).
BANNER = {"disk": b"Booting `bt kernel'", "iso": b"Booting `bt kernel'"}
BANNER["syslinux"] = b"Loading kernel.elf... ok"
MISSING = {
    "disk": mkgrubimg.missing_tools(mkgrubimg.DISK_TOOLS),
    "iso": mkgrubimg.missing_tools(mkgrubimg.ISO_TOOLS),
    "syslinux": mksyslinuximg.missing_tools(),
}
PARAMS = [
    pytest.param(kind, marks=pytest.mark.skipif(why is not None, reason=str(why)))
    for kind, why in MISSING.items()
]


def test_bad_kernel_is_a_one_line_error(tmp_path: Path) -> None:
    for tool in ("mkgrubimg.py", "mksyslinuximg.py"):
        proc = subprocess.run(
            [sys.executable, str(ROOT / "tools" / tool), str(tmp_path / "x.img")]
            + ["--kernel", str(tmp_path / "missing.elf")],
            capture_output=True,
            text=True,
            timeout=HANG_GUARD,
        )
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert ": error:" in proc.stderr and "Traceback" not in proc.stderr


def test_partition_entry_is_lba_addressed_and_bootable() -> None:
    entry = mkgrubimg.partition_entry(2048, 32768, 0x0E)
    assert len(entry) == 16 and entry[0] == 0x80 and entry[4] == 0x0E
    assert entry[8:12] == (2048).to_bytes(4, "little")
    assert entry[12:16] == (32768).to_bytes(4, "little")


@pytest.mark.parametrize("name", PARAMS)
def test_bootloader_boots_ckernel_as_under_qemu(tmp_path: Path, name: str) -> None:
    kind = KINDS[name]
    image = tmp_path / f"boot.{name}"
    kind.build(image, KERNEL, DEFAULT_ARGS)
    mbr = image.read_bytes()[:512]
    assert mbr[510:] == b"\x55\xaa"
    if name == "disk":  # grub-bios-setup's patch: core.img's first sector is LBA 1
        assert mbr[0x5C:0x64] == (1).to_bytes(8, "little")
    drive = "--fda" if kind.floppy else "--hda"
    proc = subprocess.run(
        [sys.executable, "-m", "bt", "run", drive, str(image), "--snapshot", "--stats"],
        capture_output=True,
        cwd=ROOT,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
    )
    out, err = proc.stdout, proc.stderr.decode()
    assert FIRST_LINE in out, out[-2000:]
    loader, kernel = out[: out.index(FIRST_LINE)], out[out.index(FIRST_LINE) :]
    assert kernel == (ROOT / "guests" / "expected" / "ckernel.serial").read_bytes()
    assert proc.returncode == int((ROOT / "guests" / "expected" / "ckernel.status").read_text())
    assert BANNER[name] in loader and b"error" not in loader
    header, reference = load_expected(kind)
    if versions(kind).split(" | ")[1] in header:  # the reference's bootloader: its lines too
        assert first_difference(reference, out) is None and out == reference
    # Both read the disk by INT 13h and ask for the memory map before they boot the kernel;
    # GRUB reads by the LBA extensions and asks for the VBE state.
    services = ["INT 13h AH=42h", "INT 10h AH=4Fh"] if name != "syslinux" else ["INT 13h AH=02h"]
    for service in ("INT 15h AH=E8h", *services):
        assert f"  {service}: " in err, err
