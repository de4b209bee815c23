"""Records a guest's execution under QEMU as a bt-trace reference (instruction level).

    python tools/qemu_trace.py [GUEST ...] [--out DIR]

Runs qemu-system-i386 with `-singlestep -d exec,cpu,nochain` and `-dfilter` limited to the
kernel's image (QEMU's `-kernel` runs SeaBIOS and an option ROM first: without the filter the
log holds ~130 million firmware records before the kernel's first instruction), then converts
the log to a gzip bt-trace in guests/traces/<name>.trace.gz, from the kernel's entry point on.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from elftools.elf.elffile import ELFFile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bt.qemulog import read_qemu_log  # noqa: E402
from bt.tracefile import TraceWriter  # noqa: E402

BIN = ROOT / "guests" / "bin"
OUT = ROOT / "guests" / "traces"
# Small guests only: an instruction-level log costs ~900 bytes per instruction before conversion.
# pcdevices reads the PIT and platform takes timer interrupts: QEMU runs them with -icount
# (time from instructions executed, 1 ns each) instead of its host-time clock, so the PIT state
# they read is reproducible and a tick falls due only while the guest waits in HLT, as under bt.
GUESTS = ("flags", "descriptors", "segments", "control", "io", "interrupts", "smc", "isolation",
          "usermode", "fidelity", "escape", "demo", "platform", "pcdevices")
GUEST_ARGS: dict[str, tuple[str, ...]] = {
    "platform": ("-icount", "shift=0"), "pcdevices": ("-icount", "shift=0")}


def image_range(elf: Path) -> tuple[int, int, int]:
    """(entry, lowest, highest) physical addresses of the kernel's loadable segments."""
    with elf.open("rb") as fh:
        f = ELFFile(fh)
        segs = [s for s in f.iter_segments() if s["p_type"] == "PT_LOAD" and s["p_memsz"]]
        low = min(s["p_paddr"] for s in segs)
        high = max(s["p_paddr"] + s["p_memsz"] for s in segs)
        return f.header["e_entry"], low, high


def record(name: str, out_dir: Path) -> int:
    """Make guests/traces/<name>.trace.gz; returns the number of records."""
    qemu = shutil.which("qemu-system-i386")
    if qemu is None:
        raise SystemExit("qemu-system-i386 is not installed (Debian: qemu-system-x86)")
    elf = BIN / f"{name}.elf"
    entry, low, high = image_range(elf)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "qemu.log"
        subprocess.run(
            [qemu, "-kernel", elf.name, "-serial", "null", "-display", "none", "-m", "128",
             "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-debugcon", "file:/dev/null",
             "-no-reboot", "-singlestep",
             "-d", "exec,cpu,nochain", "-dfilter", f"0x{low:x}+0x{high - low:x}", "-D",
             str(log), *GUEST_ARGS.get(name, ())],
            cwd=BIN, capture_output=True, timeout=300, check=False,
        )
        _, records = read_qemu_log(str(log))
        out_dir.mkdir(parents=True, exist_ok=True)
        n = 0
        started = False
        with TraceWriter(str(out_dir / f"{name}.trace.gz"), "insn", "qemu", elf.name) as w:
            for r in records:
                started = started or r.eip == entry
                if started and r.regs is not None and r.eip is not None:
                    w.exec(r.eip, list(r.regs))
                    n += 1
        return n


def main() -> int:
    """Record every guest named (all small guests by default)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("guests", nargs="*", default=list(GUESTS))
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    for name in args.guests:
        print(f"{name}: {record(name, Path(args.out))} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
