"""record_qemu_trace: a kernel's instruction trace under qemu-system-i386, as a bt-trace.

QEMU runs the kernel with `-singlestep -d exec,cpu,nochain` and `-dfilter` limited to the
kernel's image: its `-kernel` runs SeaBIOS and an option ROM first, and without the filter the
log holds ~130 million firmware records before the kernel's first instruction. The log is
converted (bt.qemulog) from the kernel's entry point on, one record per instruction, so that
`bt trace diff` can compare it with `bt run --trace FILE --trace-level insn` of the same kernel.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bt.errors import BadInput, OptionError

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
) -> int:
    """Write QEMU's instruction trace of the Multiboot kernel `kernel` to `out` (gzip when it
    ends in .gz); returns the number of instructions recorded. QEMU runs in the kernel's
    directory with the kernel's bare name, so the Multiboot command line it builds ("NAME
    APPEND") is the one `bt run NAME` gives when run from there."""
    from bt.loader import load_guest
    from bt.qemulog import read_qemu_log
    from bt.tracefile import TraceWriter

    qemu = shutil.which(QEMU)
    if qemu is None:
        raise BadInput(f"{QEMU} is not installed (Debian: apt-get install qemu-system-x86)")
    image = load_guest(kernel, mem_mib << 20, append)
    if image.kind != "multiboot":
        raise OptionError("trace qemu: QEMU's -kernel boots Multiboot kernels only")
    low, high = image.image_range
    path = Path(kernel).resolve()
    with tempfile.TemporaryDirectory(prefix="bt-qemu-") as tmp:
        log = Path(tmp) / "qemu.log"
        cmd = [
            qemu,
            "-kernel",
            path.name,
            "-m",
            str(mem_mib),
            *MACHINE_ARGS,
            "-dfilter",
            f"0x{low:x}+0x{high - low:x}",
            "-D",
            str(log),
            *extra_args,
        ]
        if append:
            cmd += ["-append", append]
        try:
            subprocess.run(
                cmd,
                cwd=path.parent,
                capture_output=True,
                timeout=timeout,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise BadInput(
                f"trace qemu: QEMU did not finish within {timeout:g} s (the kernel "
                "must end: write to port 0xf4, or give --timeout)"
            ) from None
        if not log.exists():
            raise BadInput(f"trace qemu: QEMU wrote no log for {kernel}")
        _, records = read_qemu_log(str(log))
        n = 0
        started = False
        last: tuple[int, tuple[int, ...]] | None = None
        with TraceWriter(out, "insn", "qemu", path.name) as w:
            for r in records:
                started = started or r.eip == image.entry
                if not started or r.regs is None or r.eip is None:
                    continue
                # QEMU logs an instruction twice when its main loop kicks the vCPU out before
                # the instruction ran (more often on a loaded host): the same address with the
                # same registers is one instruction, as `bt trace diff` counts it too.
                if (r.eip, r.regs) != last:
                    w.exec(r.eip, list(r.regs))
                    n += 1
                last = (r.eip, r.regs)
    return n
