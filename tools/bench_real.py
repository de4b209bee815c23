"""The real-mode benchmark table of tools/bench.py: boot sectors under bt, bare Unicorn, QEMU.

bt runs the boot sector from 0000:7C00 (its run loop timed, set-up excluded), bare Unicorn runs
it in its 16-bit mode with nothing but the ports hooked (the speed limit: tools/bare_unicorn.py
run_bare_real), QEMU boots it from a floppy under SeaBIOS (the whole process, firmware
included). rmbench keeps its stack away from its code; rmbench7c has a boot sector's usual
stack below 0x7C00, on the code's page, which bt then leaves writable and has its blocks check
their own bytes on entry (bt/smc.py).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bare_unicorn import run_bare_real  # noqa: E402

from bt.machine import Machine, MachineConfig  # noqa: E402
from bt.realboot import boot_sector_image  # noqa: E402

BIN = ROOT / "guests" / "bin"
REAL = {
    "rmbench": "real mode: segments, strings, near and far calls (stack off the code page)",
    "rmbench7c": "the same with the stack below 0x7C00, on the code's page (self-checking)",
}
FLOPPY = 1474560


def run_bt(name: str) -> tuple[float, int, bytes]:
    """bt's run-loop time, its entries into Python and COM1 output for one boot sector."""
    out = bytearray()
    machine = Machine(
        MachineConfig(32 << 20), boot_sector_image((BIN / f"{name}.img").read_bytes()), out.extend
    )
    start = time.perf_counter()
    machine.run()
    seconds = time.perf_counter() - start
    return seconds, machine.runloop.stats().python_entries, bytes(out)


def run_qemu_floppy(name: str) -> float | None:
    """Wall time of a whole QEMU process booting the sector from a floppy (None: no QEMU)."""
    qemu = shutil.which("qemu-system-i386")
    if qemu is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        floppy = Path(tmp) / "fd.img"
        floppy.write_bytes((BIN / f"{name}.img").read_bytes().ljust(FLOPPY, b"\0"))
        cmd = [qemu, "-drive", f"file={floppy},format=raw,if=floppy", "-display", "none"]
        cmd += ["-serial", "null", "-device", "isa-debug-exit,iobase=0xf4,iosize=4"]
        start = time.perf_counter()
        subprocess.run([*cmd, "-no-reboot"], capture_output=True, timeout=600, check=False)
        return time.perf_counter() - start


def real_table(names: list[str], runs: int) -> None:
    """Print the real-mode table: median of `runs` runs each."""
    head = (
        f"{'guest':<10} {'bare (s)':>9} {'bt (s)':>9} {'bt/bare':>8} {'QEMU (s)':>9} "
        f"{'py entries':>10}"
    )
    print(head)
    print("-" * len(head))
    for name in names:
        bare = [run_bare_real(str(BIN / f"{name}.img")) for _ in range(runs)]
        engine = [run_bt(name) for _ in range(runs)]
        if engine[-1][2] != bare[-1].output:
            raise SystemExit(f"{name}: bt printed {engine[-1][2]!r}, bare {bare[-1].output!r}")
        b = statistics.median(r.seconds for r in bare)
        e = statistics.median(r[0] for r in engine)
        q = [run_qemu_floppy(name) for _ in range(runs)]
        qtext = f"{statistics.median(x for x in q if x is not None):9.3f}" if None not in q else "-"
        print(f"{name:<10} {b:9.3f} {e:9.3f} {e / b:8.2f} {qtext:>9} {engine[-1][1]:>10,}")
    print(f"median of {runs} runs; QEMU times are whole processes (SeaBIOS included)")
