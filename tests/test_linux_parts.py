"""The Linux boot test's parts: the initramfs (guests/linux/init.asm, tools/mkinitramfs.py)
and the comparison of serial logs in the lines that carry no time (tools/linuxlog.py)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import linuxlog  # noqa: E402
import mkinitramfs  # noqa: E402


def test_initramfs_is_reproducible_and_holds_init() -> None:
    init = mkinitramfs.INIT.read_bytes()
    image = mkinitramfs.initramfs(init)
    assert image == mkinitramfs.initramfs(init)  # no time or name in it
    import gzip

    archive = gzip.decompress(image)
    assert archive.startswith(b"070701") and b"TRAILER!!!" in archive
    assert b"dev/console\0" in archive and init in archive


def test_comparable_drops_timestamps_and_timed_lines() -> None:
    log = (
        b"[    0.000000] Linux version 6.1\n"
        b"[    0.000000] tsc: Detected 2600.003 MHz processor\n"
        b"[    0.000000] tsc: Marking TSC unstable due to clocksource watchdog\n"
        b"[    1.5] not a stamp\n"
        b"[    1.600000] input: AT Keyboard as /devices/platform/i8042/serio0/input/input1\n"
        b"BT-LINUX-MARKER: /init is running on 6.1\nafter\n"
    )
    assert linuxlog.comparable(log) == [
        b"Linux version 6.1",
        b"[    1.5] not a stamp",
        b"input: AT Keyboard as /devices/platform/i8042/serio0/input/inputN",
        b"BT-LINUX-MARKER: /init is running on 6.1",
    ]
