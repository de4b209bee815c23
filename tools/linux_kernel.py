"""Debian's i386 Linux kernel for the boot test: fetched with `apt-get download`, never committed.

The package is pinned (PACKAGE, VERSION) so that the committed QEMU log
(guests/expected/linux-isapc.serial) is for the very kernel the test boots; `apt-get download`
needs no root once the i386 architecture's package lists exist (tools/deps.sh adds them). The
kernel is unpacked with `dpkg-deb -x` into a cache directory ($BT_CACHE, else
~/.cache/bt/linux), and BT_LINUX_KERNEL=PATH uses a bzImage already on disk instead.
Usage: python tools/linux_kernel.py   (prints the bzImage's path, fetching it if needed)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "linux-image-6.1.0-57-686-unsigned"
VERSION = "6.1.192-3"
RELEASE = "6.1.0-57-686"


class KernelUnavailable(Exception):
    """The kernel cannot be had here (no apt-get, no i386 lists, no such package)."""


def cache_dir() -> Path:
    """Where fetched kernels are kept."""
    base = os.environ.get("BT_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "bt" / "linux"


def kernel_path() -> Path:
    """The pinned kernel's bzImage, fetched and unpacked on first use."""
    given = os.environ.get("BT_LINUX_KERNEL")
    if given:
        return Path(given)
    target = cache_dir() / f"{PACKAGE}_{VERSION}" / "boot" / f"vmlinuz-{RELEASE}"
    if target.exists():
        return target
    root = target.parent.parent
    root.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
        done = subprocess.run(
            ["apt-get", "download", f"{PACKAGE}:i386={VERSION}"],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        debs = list(Path(tmp).glob("*.deb"))
        if done.returncode or not debs:
            why = done.stderr.strip().splitlines()[-1:] or [f"status {done.returncode}"]
            raise KernelUnavailable(f"apt-get download {PACKAGE}:i386={VERSION}: {why[0]}")
        unpacked = Path(tmp) / "x"
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(unpacked)], check=True)
        # Only the bzImage is kept: the modules are of no use to an initramfs-only boot.
        (unpacked / "boot").rename(Path(tmp) / "boot")
        final = Path(tmp) / "kept"
        final.mkdir()
        (Path(tmp) / "boot").rename(final / "boot")
        final.rename(root)
    return target


def main() -> int:
    try:
        print(kernel_path())
    except (KernelUnavailable, FileNotFoundError, subprocess.CalledProcessError) as exc:
        sys.stderr.write(f"linux_kernel: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
