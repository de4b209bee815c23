"""record_qemu_trace: a kernel's instruction trace under qemu-system-i386, as a bt-trace.

QEMU runs the kernel with `-singlestep -d exec,cpu,nochain` and `-dfilter` limited to the
kernel's image: its `-kernel` runs SeaBIOS and an option ROM first, and without the filter the
log holds ~130 million firmware records before the kernel's first instruction. The log is
converted (bt.qemulog) from the kernel's entry point on, one record per instruction, so that
`bt trace diff` can compare it with `bt run --trace FILE --trace-level insn` of the same kernel.
A disk image is booted by SeaBIOS and recorded from its boot sector's entry, in conventional
memory only (bt.tracefile.BOOT_WINDOW, as `bt run IMG --trace` records it).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from bt.errors import BadInput, OptionError
from bt.tracefile import BOOT_WINDOW, REGS

QEMU = "qemu-system-i386"
# The reference machine of tools/qemu_ref.py: isa-debug-exit at 0xf4, debugcon on 0xe9.
MACHINE_ARGS = (
    "-serial",
    "null",
    "-display",
    "none",
    "-device",
    "isa-debug-exit,iobase=0xf4,iosize=4",
    "-debugcon",
    "file:/dev/null",
    "-no-reboot",
    "-singlestep",
    "-d",
    "exec,cpu,nochain",
)


def record_qemu_trace(
    kernel: str,
    out: str,
    mem_mib: int = 128,
    append: str = "",
    extra_args: Sequence[str] = (),
    timeout: float = 300.0,
    hda: str | None = None,
) -> int:
    """Write QEMU's instruction trace of the Multiboot kernel `kernel` to `out` (gzip when it
    ends in .gz); returns the number of instructions recorded. QEMU runs in the kernel's
    directory with the kernel's bare name, so the Multiboot command line it builds ("NAME
    APPEND") is the one `bt run NAME` gives when run from there. A disk image instead is
    booted by SeaBIOS (`record_qemu_boot_trace`)."""
    from bt.bootplan import is_kernel_file
    from bt.loader import load_guest

    if not is_kernel_file(kernel):
        return record_qemu_boot_trace(kernel, out, mem_mib, extra_args, timeout, hda)
    image = load_guest(kernel, mem_mib << 20, append)
    if image.kind != "multiboot":
        raise OptionError("trace qemu: QEMU's -kernel boots Multiboot kernels only")
    low, high = image.image_range
    path = Path(kernel).resolve()
    args = ["-kernel", path.name, "-m", str(mem_mib), *MACHINE_ARGS]
    args += ["-dfilter", f"0x{low:x}+0x{high - low:x}", *extra_args]
    if append:
        args += ["-append", append]
    return _record(args, path, out, lambda eip, _regs: eip == image.entry, timeout)


def record_qemu_boot_trace(
    disk: str,
    out: str,
    mem_mib: int = 128,
    extra_args: Sequence[str] = (),
    timeout: float = 300.0,
    hda: str | None = None,
) -> int:
    """QEMU's instruction trace of the disk image `disk` booted by SeaBIOS (a floppy by its
    size, else hard disk C:), from the boot sector's entry at 0000:7C00 on, of the code in
    bt.tracefile.BOOT_WINDOW only: `bt run DISK --trace FILE --trace-level insn` records the
    same window, so each BIOS call is one step in both (QEMU's RTC starts where bt's CMOS
    does and both follow the instructions executed; the image is never written)."""
    from bt.bootplan import guest_kind
    from bt.devices.diskimage import FLOPPY

    path = Path(disk).resolve()
    kind = "floppy" if guest_kind(str(path)) == FLOPPY else "ide"
    low, high = BOOT_WINDOW
    args = ["-drive", f"if={kind},format=raw,file={path.name}", "-m", str(mem_mib)]
    if hda is not None:  # a hard disk besides the floppy booted (`bt run DISK --hda IMG`)
        args += ["-drive", f"if=ide,format=raw,file={Path(hda).resolve()}"]
    # Time from instructions executed, the RTC on it too (QEMU's RTC follows the host clock
    # by default): the ticks and the time a guest reads from the BIOS are bt's.
    args += [*MACHINE_ARGS, "-rtc", "base=2000-01-01T00:00:00,clock=vm", "-snapshot"]
    args += ["-icount", "shift=0"]
    args += ["-dfilter", f"0x{low:x}+0x{high - low:x}", *extra_args]
    cs = REGS.index("cs")
    return _record(args, path, out, lambda eip, regs: eip == 0x7C00 and regs[cs] == 0, timeout)


def _record(
    args: list[str],
    path: Path,
    out: str,
    is_entry: Callable[[int, tuple[int, ...]], bool],
    timeout: float,
) -> int:
    """Run QEMU with `args` in `path`'s directory and convert its log from the first record
    `is_entry` accepts on; returns the number of instructions written."""
    from bt.qemulog import read_qemu_log
    from bt.tracefile import TraceWriter

    qemu = shutil.which(QEMU)
    if qemu is None:
        raise BadInput(f"{QEMU} is not installed (Debian: apt-get install qemu-system-x86)")
    with tempfile.TemporaryDirectory(prefix="bt-qemu-") as tmp:
        log = Path(tmp) / "qemu.log"
        try:
            subprocess.run(
                [qemu, *args, "-D", str(log)],
                cwd=path.parent,
                capture_output=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise BadInput(
                f"trace qemu: QEMU did not finish within {timeout:g} s (the guest "
                "must end: write to port 0xf4, or give --timeout)"
            ) from None
        if not log.exists():
            raise BadInput(f"trace qemu: QEMU wrote no log for {path.name}")
        _, records = read_qemu_log(str(log))
        n = 0
        started = False
        last: tuple[int, tuple[int, ...]] | None = None
        with TraceWriter(out, "insn", "qemu", path.name) as w:
            for r in records:
                if r.regs is None or r.eip is None:
                    continue
                started = started or is_entry(r.eip, r.regs)
                if not started:
                    continue
                # QEMU logs an instruction twice when its main loop kicks the vCPU out before
                # the instruction ran (more often on a loaded host): the same address with the
                # same registers is one instruction, as `bt trace diff` counts it too.
                if (r.eip, r.regs) != last:
                    w.exec(r.eip, list(r.regs))
                    n += 1
                last = (r.eip, r.regs)
    return n
