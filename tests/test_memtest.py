"""memtest86+ from Debian (package memtest86+, /boot/memtest86+ia32.bin, a bzImage) booted by
GRUB's linux16 from a disk image (tools/mkgrubimg.py --linux16) starts and reports its first
test on the serial console, with the CPU clock it measured on the PIT: the TSC's 1000 MHz.

QEMU (`qemu-system-i386 -kernel /boot/memtest86+ia32.bin -append console=ttyS0,115200
-nographic`, or this image) prints the same screen with the host's clock ("CLK/Temp: 2602MHz").
The run ends when the first test's line has been printed: it is bounded by the guest's own
output (at most MAX_SERIAL bytes), not by host time; the machine's clock is virtual.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

from bt.bootplan import boot_plan
from bt.cliparser import build_parser
from bt.machine import Machine, MachineConfig
from bt.pcboot import pc_boot

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import mkgrubimg  # noqa: E402

MEMTEST = Path("/boot/memtest86+ia32.bin")
MISSING = (
    "memtest86+ is not installed (Debian package memtest86+)"
    if not MEMTEST.is_file()
    else mkgrubimg.missing_tools()
)
FIRST_TEST = re.compile(rb"#0  \[Address test, walking ones")
MAX_SERIAL = 256 << 10  # the first screen and its first updates are about 10 KiB
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.mark.skipif(MISSING is not None, reason=str(MISSING))
def test_memtest_reports_its_first_test(tmp_path: Path) -> None:
    image = tmp_path / "memtest.img"
    mkgrubimg.build(image, MEMTEST, "console=ttyS0,115200", linux16=True)
    args = build_parser().parse_args(["run", "--hda", str(image), "--snapshot"])
    plan = boot_plan(args)
    assert plan is not None
    out = bytearray()
    box: list[Machine] = []

    def serial(data: bytes) -> None:
        out.extend(data)
        if FIRST_TEST.search(out) or len(out) > MAX_SERIAL:
            box[0].runloop.request_shutdown(0, "memtest86+ reported its first test")

    try:
        boot = pc_boot(MachineConfig(128 << 20), plan, serial, None, lambda _line: None)
        box.append(boot.machine)
        result = boot.machine.run(timeout=HANG_GUARD)
    finally:
        plan.close()
    text = ANSI.sub(b"\n", bytes(out))
    assert FIRST_TEST.search(text), text[-2000:]
    assert result.status == 0, result
    assert b"Memtest86+ v6" in text and b"Booting `bt kernel'" in text
    assert b"CLK/Temp: 1000MHz" in text  # its PIT measurement of the TSC (bt/timebase.py)
    assert b"Memory  :  127MB" in text  # what QEMU's -m 128 shows it too
