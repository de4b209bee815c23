"""Boot a GRUB disk image (tools/mkgrubimg.py) under qemu-system-i386 and under bt, and compare.

QEMU runs the reference machine of tools/qemu_ref.py (128 MiB, COM1 to a file, isa-debug-exit
at 0xf4, no display, no reboot) with the image as the first IDE disk in raw format and
`-snapshot`; bt runs `bt run --hda IMG --snapshot`. Each log is COM1's bytes: GRUB's console
(its terminal escapes included), then the kernel's output. `--out DIR` keeps both logs
(qemu.serial, bt.serial); the tool prints the first line where they differ, or that they are
equal, and exits 1 when they differ. Without an image it builds one (`--kind disk|iso`) from
guests/bin/ckernel.elf in a temporary directory.

`--write-expected` writes QEMU's log of that image to guests/expected/grub.serial after one
header line naming QEMU's and GRUB's versions (GRUB's own lines change with its version; the
kernel's do not), and runs no bt.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from mkgrubimg import BUILDERS, DEFAULT_ARGS, GrubImageError  # noqa: E402
from qemu_ref import BASE_OPTIONS, QEMU  # noqa: E402

DEFAULT_KERNEL = ROOT / "guests" / "bin" / "ckernel.elf"
EXPECTED = ROOT / "guests" / "expected" / "grub.serial"
HEADER = "# qemu_grub: "
TIMEOUT = 120.0  # seconds: QEMU boots GRUB and ckernel in well under one


def qemu_serial(image: Path, timeout: float = TIMEOUT) -> bytes:
    """COM1's bytes of a QEMU boot of `image`."""
    with tempfile.TemporaryDirectory(prefix="qemu-grub-") as tmp:
        log = Path(tmp) / "com1"
        opts = dict(BASE_OPTIONS, **{"-serial": f"file:{log}"})
        cmd = [QEMU, *(x for kv in opts.items() for x in kv), "-no-reboot", "-snapshot"]
        cmd += ["-drive", f"file={image},format=raw,if=ide,index=0"]
        subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        return log.read_bytes() if log.exists() else b""


def versions() -> str:
    """QEMU's and GRUB's version lines, as the reference's header names them."""
    out = []
    for cmd in ([QEMU, "--version"], ["grub-mkimage", "--version"]):
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        out.append(done.stdout.splitlines()[0] if done.stdout else "?")
    return " | ".join(out)


def load_expected() -> tuple[str, bytes]:
    """The committed reference: its header's versions, and COM1's bytes."""
    header, _, serial = EXPECTED.read_bytes().partition(b"\n")
    return header.decode().removeprefix(HEADER), serial


def bt_serial(image: Path) -> bytes:
    """COM1's bytes of a bt boot of `image` (bounded by the kernel's own exit)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "bt", "run", "--hda", str(image), "--snapshot"]
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
    parser.add_argument("image", nargs="?", help="the disk image (default: built from ckernel)")
    parser.add_argument("--kind", choices=BUILDERS, default="disk", help="the image to build")
    parser.add_argument("--out", metavar="DIR", help="write qemu.serial and bt.serial here")
    parser.add_argument("--write-expected", action="store_true", help=f"write {EXPECTED.name}")
    ns = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qemu-grub-img-") as tmp:
        image = Path(ns.image) if ns.image else Path(tmp) / "grub.img"
        try:
            if not ns.image:
                BUILDERS[ns.kind](image, DEFAULT_KERNEL, DEFAULT_ARGS)
            elif not image.is_file():
                raise GrubImageError(f"{image}: no such image file")
        except (GrubImageError, OSError) as exc:
            print(f"qemu_grub: error: {exc}", file=sys.stderr)
            return 2
        if ns.write_expected:
            EXPECTED.write_bytes(f"{HEADER}{versions()}\n".encode() + qemu_serial(image))
            return 0
        logs = {"qemu": qemu_serial(image), "bt": bt_serial(image)}
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
