"""Boot a bootloader's image under qemu-system-i386 and under bt, and compare their COM1 logs.

The images: GRUB 2's (tools/mkgrubimg.py: `disk`, `iso`), booted as the first IDE disk, and
SYSLINUX's floppy (tools/mksyslinuximg.py: `syslinux`), booted as drive A:. QEMU runs the
reference machine of tools/qemu_ref.py (128 MiB, COM1 to a file, isa-debug-exit at 0xf4, no
display, no reboot) with the image in raw format and `-snapshot`; bt runs `bt run --hda IMG
--snapshot` (`--fda` for the floppy). Each log is COM1's bytes: the bootloader's console (its
terminal escapes included), then the kernel's output. `--out DIR` keeps both logs
(qemu.serial, bt.serial); the tool prints the first line where they differ, or that they are
equal, and exits 1 when they differ. Without an IMAGE it builds one of `--kind` from
guests/bin/ckernel.elf in a temporary directory.

`--write-expected` writes QEMU's log to guests/expected/grub.serial (both GRUB kinds print the
same) or syslinux.serial after one header line naming QEMU's and the bootloader's versions
(the bootloader's own lines change with its version; the kernel's do not), and runs no bt.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import mkgrubimg  # noqa: E402
import mksyslinuximg  # noqa: E402
from hosttools import ToolError  # noqa: E402
from qemu_ref import BASE_OPTIONS, QEMU  # noqa: E402

DEFAULT_KERNEL = ROOT / "guests" / "bin" / "ckernel.elf"
EXPECTED_DIR = ROOT / "guests" / "expected"
HEADER = "# qemu_bootloader: "
TIMEOUT = 120.0  # seconds: QEMU boots either bootloader and ckernel in well under one


@dataclass(frozen=True, slots=True)
class Kind:
    """An image kind: how it is built, which drive boots it, its reference, its version."""

    build: Callable[[Path, Path, str], None]
    floppy: bool
    reference: str  # file name in guests/expected/
    version_cmd: tuple[str, ...]


KINDS = {
    "disk": Kind(mkgrubimg.build, False, "grub.serial", ("grub-mkimage", "--version")),
    "iso": Kind(mkgrubimg.build_iso, False, "grub.serial", ("grub-mkimage", "--version")),
    "syslinux": Kind(mksyslinuximg.build, True, "syslinux.serial", ("syslinux", "--version")),
}
DEFAULT_ARGS = mkgrubimg.DEFAULT_ARGS


def qemu_serial(image: Path, floppy: bool, timeout: float = TIMEOUT) -> bytes:
    """COM1's bytes of a QEMU boot of `image` (as drive A: or the first IDE disk)."""
    with tempfile.TemporaryDirectory(prefix="qemu-bootloader-") as tmp:
        log = Path(tmp) / "com1"
        opts = dict(BASE_OPTIONS, **{"-serial": f"file:{log}"})
        cmd = [QEMU, *(x for kv in opts.items() for x in kv), "-no-reboot", "-snapshot"]
        drive = "if=floppy" if floppy else "if=ide"
        cmd += ["-drive", f"file={image},format=raw,{drive},index=0"]
        subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        return log.read_bytes() if log.exists() else b""


def versions(kind: Kind) -> str:
    """QEMU's and the bootloader's version lines, as the reference's header names them."""
    out = []
    for cmd in ([QEMU, "--version"], list(kind.version_cmd)):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        text = done.stdout or done.stderr  # syslinux prints its version on stderr
        out.append(text.splitlines()[0] if text else "?")
    return " | ".join(out)


def load_expected(kind: Kind) -> tuple[str, bytes]:
    """The committed reference: its header's versions, and COM1's bytes."""
    header, _, serial = (EXPECTED_DIR / kind.reference).read_bytes().partition(b"\n")
    return header.decode().removeprefix(HEADER), serial


def bt_serial(image: Path, floppy: bool) -> bytes:
    """COM1's bytes of a bt boot of `image` (bounded by the kernel's own exit)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    drive = "--fda" if floppy else "--hda"
    cmd = [sys.executable, "-m", "bt", "run", drive, str(image), "--snapshot"]
    return subprocess.run(cmd, capture_output=True, env=env, check=False).stdout


def first_difference(a: bytes, b: bytes) -> int | None:
    """The index of the first line where `a` and `b` differ, or None."""
    la, lb = a.split(b"\n"), b.split(b"\n")
    for i, (x, y) in enumerate(zip(la, lb, strict=False)):
        if x != y:
            return i
    return None if len(la) == len(lb) else min(len(la), len(lb))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", help="the image (default: built from ckernel)")
    parser.add_argument("--kind", choices=KINDS, default="disk", help="the image's kind")
    parser.add_argument("--out", metavar="DIR", help="write qemu.serial and bt.serial here")
    parser.add_argument("--write-expected", action="store_true", help="write the reference")
    ns = parser.parse_args(argv)
    kind = KINDS[ns.kind]
    with tempfile.TemporaryDirectory(prefix="qemu-bootloader-img-") as tmp:
        image = Path(ns.image) if ns.image else Path(tmp) / f"boot.{ns.kind}"
        try:
            if not ns.image:
                kind.build(image, DEFAULT_KERNEL, DEFAULT_ARGS)
            elif not image.is_file():
                raise OSError(f"{image}: no such image file")
        except (ToolError, OSError) as exc:
            parser.exit(2, f"qemu_bootloader: error: {exc}\n")
        if ns.write_expected:
            head = f"{HEADER}{versions(kind)}\n".encode()
            (EXPECTED_DIR / kind.reference).write_bytes(head + qemu_serial(image, kind.floppy))
            return 0
        logs = {"qemu": qemu_serial(image, kind.floppy), "bt": bt_serial(image, kind.floppy)}
    if ns.out:
        Path(ns.out).mkdir(parents=True, exist_ok=True)
        for name, data in logs.items():
            (Path(ns.out) / f"{name}.serial").write_bytes(data)
    line = first_difference(logs["qemu"], logs["bt"])
    if line is None:
        print(f"equal: {len(logs['qemu'])} bytes on COM1")
        return 0
    for name, data in logs.items():
        lines = data.split(b"\n")
        print(f"{name} line {line + 1}: {lines[line] if line < len(lines) else b'(end)'!r}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
