"""Builds the Linux boot test's initramfs: a gzip'd newc cpio archive with /init and /dev/console.

Written here rather than with cpio(1) so that it needs nothing but Python, is the same bytes on
every machine (mtimes 0, gzip without a name or time) and can hold a device node without root.
Usage: python tools/mkinitramfs.py OUT [INIT]   (INIT: guests/linux/init by default)
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INIT = ROOT / "guests" / "linux" / "init"

S_IFDIR, S_IFREG, S_IFCHR = 0o040000, 0o100000, 0o020000


def _entry(
    ino: int, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
) -> bytes:
    """One newc member: the 110-byte ASCII header, the name and the data, each padded to 4."""
    fields = (
        ino, mode, 0, 0, 1 if not mode & S_IFDIR else 2, 0, len(data),
        0, 0, rdev[0], rdev[1], len(name) + 1, 0,
    )  # fmt: skip
    header = b"070701" + b"".join(f"{f:08X}".encode() for f in fields)
    out = header + name.encode() + b"\0"
    out += bytes(-len(out) % 4)
    out += data + bytes(-len(data) % 4)
    return out


def initramfs(init: bytes) -> bytes:
    """The archive: /dev, /dev/console (char 5:1), /init (mode 0755), gzip-compressed."""
    members = [
        _entry(1, "dev", S_IFDIR | 0o755),
        _entry(2, "dev/console", S_IFCHR | 0o600, rdev=(5, 1)),
        _entry(3, "init", S_IFREG | 0o755, init),
        _entry(0, "TRAILER!!!", 0),
    ]
    archive = b"".join(members)
    archive += bytes(-len(archive) % 512)
    return gzip.compress(archive, compresslevel=9, mtime=0)


def default_image() -> bytes:
    """The boot test's initramfs: guests/linux/init packed by `initramfs`."""
    return initramfs(INIT.read_bytes())


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        sys.stderr.write("usage: python tools/mkinitramfs.py OUT [INIT]\n")
        return 2
    init = Path(argv[2]) if len(argv) == 3 else INIT
    try:
        data = init.read_bytes()
    except OSError as exc:
        sys.stderr.write(f"mkinitramfs: cannot read {init}: {exc.strerror}\n")
        return 2
    Path(argv[1]).write_bytes(initramfs(data))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
