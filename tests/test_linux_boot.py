"""Debian's i386 Linux kernel boots to its initramfs's /init on `--machine isapc`, as under QEMU.

The kernel is Debian's (tools/linux_kernel.py fetches the pinned package with apt-get download;
the test skips when it cannot be had), the initramfs the project's (guests/linux/init.asm,
tools/mkinitramfs.py). The serial log up to the marker must equal QEMU's in every line that
carries no time (tools/linuxlog.py), and the run ends with init's exit status. Not in the
default run (the `linux_boot` marker: `python -m pytest -m linux_boot`): the boot takes longer
than the suite's budget today.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import linux_kernel  # noqa: E402
import linuxlog  # noqa: E402
import mkinitramfs  # noqa: E402


def _kernel() -> Path:
    try:
        return linux_kernel.kernel_path()
    except (linux_kernel.KernelUnavailable, OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"Debian's i386 kernel cannot be had here: {exc}")


def _reference(kernel: Path, initrd: Path) -> bytes:
    """QEMU's log: the committed one for the pinned kernel, else a fresh one."""
    committed = linuxlog.EXPECTED.read_bytes()
    header, _, log = committed.partition(b"\n")
    if header.decode() == f"# {linux_kernel.PACKAGE} {linux_kernel.VERSION}" and (
        linux_kernel.cache_dir() in kernel.parents
    ):
        return log
    log, status = linuxlog.qemu_log(kernel, initrd)
    assert status == linuxlog.EXIT_STATUS, log[-2000:]
    return log


@pytest.mark.linux_boot
def test_linux_boots_to_init_as_under_qemu(tmp_path: Path) -> None:
    kernel = _kernel()
    initrd = tmp_path / "initrd.gz"
    initrd.write_bytes(mkinitramfs.default_image())
    log = tmp_path / "serial.log"
    proc = subprocess.run(
        [sys.executable, "-m", "bt", "run", "--kernel", str(kernel), "--initrd", str(initrd)]
        + linuxlog.bt_args()
        + ["--serial", f"file:{log}"],
        capture_output=True,
        cwd=ROOT,
        timeout=HANG_GUARD,  # the boot ends at init's exit-port write
    )
    got = log.read_bytes()
    assert linuxlog.MARKER in got, (got[-3000:], proc.stderr[-2000:])
    assert proc.returncode == linuxlog.EXIT_STATUS, proc.stderr[-2000:]
    want = linuxlog.comparable(_reference(kernel, initrd))
    assert linuxlog.in_order(linuxlog.comparable(got)) == linuxlog.in_order(want)
    assert sorted(linuxlog.comparable(got)) == sorted(want)
