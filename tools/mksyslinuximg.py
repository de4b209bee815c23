"""Build a SYSLINUX boot floppy from Debian's syslinux that boots a Multiboot kernel by mboot.c32.

A 1.44 MB FAT12 floppy made by mkfs.fat on a plain file; `syslinux --install` writes its boot
sector and ldlinux.sys/ldlinux.c32 into the image file through mtools (no root, no loop
mount); mcopy adds mboot.c32 and the libcom32.c32 it needs (syslinux-common's BIOS modules),
syslinux.cfg (COM1 console at 115200, no prompt, no timeout) and the kernel as KERNEL.ELF.
mboot.c32 passes the kernel's file name and the words after it as the command line, as QEMU's
-kernel does, so the kernel sees what it sees there with `--append ARGS`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hosttools import ToolError, missing, run  # noqa: E402

MODULES_DIR = Path("/usr/lib/syslinux/modules/bios")
MODULES = ("mboot.c32", "libcom32.c32")
TOOLS = ("syslinux", "mkfs.fat", "mcopy")
FLOPPY_KIB = 1440
DEFAULT_ARGS = "bt test cmdline"  # ckernel's expected output was made with this --append


def syslinux_cfg(args: str) -> str:
    """The configuration: the console on COM1, the kernel booted at once."""
    lines = ["SERIAL 0 115200", "PROMPT 0", "TIMEOUT 0", "DEFAULT bt", "LABEL bt"]
    lines += ["  KERNEL mboot.c32", f"  APPEND kernel.elf {args}"]
    return "\n".join(lines) + "\n"


def missing_tools() -> str | None:
    """Why the floppy cannot be built here, or None."""
    return missing({MODULES_DIR / m: "syslinux-common" for m in MODULES}, TOOLS)


def build(out: Path, kernel: Path, args: str) -> None:
    """Write the floppy image `out` booting `kernel` with command-line `args`."""
    why = missing_tools()
    if why:
        raise ToolError(why)
    if not kernel.is_file():
        raise ToolError(f"{kernel}: no such kernel file")
    out.unlink(missing_ok=True)  # mkfs.fat -C refuses an existing file
    run(["mkfs.fat", "-C", str(out), str(FLOPPY_KIB)])
    run(["syslinux", "--install", str(out)])
    with tempfile.TemporaryDirectory(prefix="mksyslinuximg-") as tmp:
        cfg = Path(tmp) / "syslinux.cfg"
        cfg.write_text(syslinux_cfg(args))
        files = [str(MODULES_DIR / m) for m in MODULES] + [str(cfg)]
        run(["mcopy", "-i", str(out), *files, "::/"])
        run(["mcopy", "-i", str(out), str(kernel), "::/kernel.elf"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the floppy image to write")
    parser.add_argument("--kernel", required=True, metavar="ELF", help="the Multiboot kernel")
    parser.add_argument("--args", default=DEFAULT_ARGS, help="its command line's arguments")
    ns = parser.parse_args(argv)
    try:
        build(Path(ns.out), Path(ns.kernel), ns.args)
    except (ToolError, OSError) as exc:
        parser.exit(2, f"mksyslinuximg: error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
