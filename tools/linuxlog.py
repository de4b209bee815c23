"""The Linux boot test's serial logs: QEMU's reference, and the lines two boots can share.

`qemu_log` boots the kernel under `qemu-system-i386 -M isapc` with the options bt's run takes
(the same kernel, initramfs, command line, RAM and CPU model: QEMU's isapc has no IOAPIC, and
`-cpu qemu32,-apic` keeps the local APIC out as well, as on a PC of the ISA era; with an APIC
reported but no IOAPIC, Linux 6.1 faults in setup_IO_APIC on SeaBIOS's MP table under QEMU).
`comparable` drops what a log line carries of time: the printk timestamp, and the lines whose
values are measured rather than computed (the TSC's frequency and what is derived from it,
the RTC's date, audit's and sched_clock's times).
Usage: python tools/linuxlog.py --write-expected   (writes guests/expected/linux-isapc.serial)
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import linux_kernel  # noqa: E402
import mkinitramfs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = ROOT / "guests" / "expected" / "linux-isapc.serial"
MARKER = b"BT-LINUX-MARKER: /init is running on "
# KASLR takes its entropy from the TSC and the PIT: QEMU's "Memory:" line varied run to run.
APPEND = "console=ttyS0 nokaslr"
MEM_MIB = 128
CPU = "qemu32,-apic"
MACHINE = "isapc"
EXIT_STATUS = 33  # (0x10 << 1) | 1: init's write to isa-debug-exit
HANG_GUARD = 300  # seconds: a QEMU that never reaches the marker (never in a good run)

_STAMP = re.compile(rb"^\[ *\d+\.\d{6}\] ")
# Lines whose values are measured (the host's clock under QEMU, the virtual one under bt) or
# derived from a measurement: the TSC's calibration and frequency (under load QEMU's own runs
# differ here: "Fast TSC calibration failed", "Marking TSC unstable" came and went), the
# clocksources' ranges and watchdog, the delay loop, the RTC's date, audit's and sched_clock's
# times. Everything else must be equal.
_TIMED = (
    rb"tsc: ",
    rb"clocksource: ",
    rb"Calibrating delay loop",
    rb"BogoMIPS",
    rb"sched_clock: ",
    rb"audit(",
    rb"setting system clock to",
    # Printed when the TSC was marked unstable (by QEMU's host-timed calibration, above).
    rb"Unstable clock detected, switching default tracing clock",
    rb"If you want to keep using the local clock, then add:",
    rb'"trace_clock=local"',
    rb"on the kernel command line",
)


# Lines printed by work the kernel runs in the background (serio's kseriod probing the
# keyboard, the initramfs unpacked by an async worker): where they fall among the init
# thread's lines depends on how time passed while it waited, not on what the machine is.
# `in_order` leaves them out; the test checks that both logs hold them too.
_ASYNC = (
    rb"input: AT Translated Set 2 keyboard",
    rb"Trying to unpack rootfs image as initramfs",
    rb"Freeing initrd memory",
)


# The keyboard's input device number: the i8042's KBD and AUX ports are probed by atkbd
# concurrently (a trace of ports 0x60/0x64 under bt shows the AUX port's GETID between the KBD
# port's open and its GETID), and the number goes to whichever allocates its input device
# first, the AUX port's failing probe included: a race decided by time.
_INPUT_NUMBER = re.compile(rb"(/input/input)\d+")


def in_order(lines: list[bytes]) -> list[bytes]:
    """`lines` without the background probes' lines, whose place is a matter of time."""
    return [line for line in lines if not any(line.startswith(a) for a in _ASYNC)]


def bt_args() -> list[str]:
    """`bt run` options of the boot (after the kernel and initrd)."""
    return ["--append", APPEND, "--mem", str(MEM_MIB), "--cpu", CPU, "--machine", MACHINE]


def comparable(log: bytes) -> list[bytes]:
    """The lines of `log` up to the marker's, without timestamps and timed lines."""
    end = log.find(MARKER)
    if end >= 0:
        end = log.find(b"\n", end)
        log = log[: end if end >= 0 else len(log)]
    lines = []
    for line in log.replace(b"\r\n", b"\n").split(b"\n"):
        line = _INPUT_NUMBER.sub(rb"\1N", _STAMP.sub(b"", line))
        if not any(t in line for t in _TIMED):
            lines.append(line)
    return lines


def qemu_log(kernel: Path, initrd: Path) -> tuple[bytes, int]:
    """QEMU's serial log of the boot and its exit status."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "serial.log"
        cmd = [
            "qemu-system-i386", "-M", MACHINE, "-cpu", CPU, "-m", str(MEM_MIB),
            "-kernel", str(kernel), "-initrd", str(initrd), "-append", APPEND,
            "-display", "none", "-monitor", "none", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-serial", f"file:{log}",
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, timeout=HANG_GUARD, check=False)
        return log.read_bytes(), done.returncode


def main(argv: list[str]) -> int:
    if argv[1:] != ["--write-expected"]:
        sys.stderr.write("usage: python tools/linuxlog.py --write-expected\n")
        return 2
    try:
        kernel = linux_kernel.kernel_path()
    except linux_kernel.KernelUnavailable as exc:
        sys.stderr.write(f"linuxlog: {exc}\n")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        initrd = Path(tmp) / "initrd.gz"
        initrd.write_bytes(mkinitramfs.default_image())
        log, status = qemu_log(kernel, initrd)
    if status != EXIT_STATUS or MARKER not in log:
        sys.stderr.write(f"linuxlog: QEMU ended with status {status} without the marker\n")
        return 1
    header = f"# {linux_kernel.PACKAGE} {linux_kernel.VERSION}\n".encode()
    EXPECTED.write_bytes(header + log)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
