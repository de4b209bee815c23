"""Record a firmware ROM's reference output: qemu-system-i386 -bios ROM, port 0xE9 and the exit.

`python tools/qemu_rom_ref.py [ROM ...]` (default: guests/cputest/cputest.rom) runs each ROM as
`qemu-system-i386 -bios ROM -debugcon file:OUT -device isa-debug-exit,iobase=0xf4,iosize=4`
and writes guests/expected/cputest/NAME.debugcon (the bytes written to port 0xE9) and
NAME.status (QEMU's exit status: (V << 1) | 1 for a write of V to port 0xF4). `--check`
compares instead of writing (status 1 when they differ). Bochs is not run: Debian's bochs
2.7 here has no display library that runs headless (nogui is not built in, rfb aborts), see
guests/cputest/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROM = ROOT / "guests" / "cputest" / "cputest.rom"
EXPECTED_DIR = ROOT / "guests" / "expected" / "cputest"
QEMU = "qemu-system-i386"
QEMU_ARGS = ("-display", "none", "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-no-reboot")
TIMEOUT = 120.0


def qemu_run(rom: Path, timeout: float = TIMEOUT) -> tuple[bytes, int]:
    """Port 0xE9's bytes and QEMU's exit status for `rom`."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "debugcon"
        cmd = [QEMU, "-bios", str(rom), "-debugcon", f"file:{out}", *QEMU_ARGS]
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        return out.read_bytes(), proc.returncode


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) each ROM's reference."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roms", nargs="*", type=Path, default=[DEFAULT_ROM])
    ap.add_argument("--check", action="store_true", help="compare with the committed files")
    args = ap.parse_args(argv)
    if shutil.which(QEMU) is None:
        sys.stderr.write(f"qemu_rom_ref: {QEMU} is not installed\n")
        return 2
    differ = False
    for rom in args.roms:
        data, status = qemu_run(rom)
        name = rom.stem
        files = {f"{name}.debugcon": data, f"{name}.status": b"%d\n" % status}
        for fname, content in files.items():
            path = EXPECTED_DIR / fname
            if args.check:
                if not path.exists() or path.read_bytes() != content:
                    sys.stderr.write(f"qemu_rom_ref: {path} differs\n")
                    differ = True
            else:
                EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
                sys.stdout.write(f"{path}: {len(content)} bytes\n")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
