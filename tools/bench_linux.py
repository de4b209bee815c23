"""The Linux boot benchmark: time to /init's marker under bt and under QEMU, side by side.

Both boot Debian's pinned i386 kernel (tools/linux_kernel.py) with the project's initramfs on
`-M isapc -cpu qemu32,-apic` with the same command line (tools/linuxlog.py), as whole processes
ended by init's exit-port write, interleaved run by run. bt's `--stats` gives the counters:
TLB fills, callouts by kind and Python entries; `--count` adds one `--count-insns` run (slow)
for the per-1000-instruction figures.
Usage: python tools/bench_linux.py [--runs N] [--count]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import linux_kernel  # noqa: E402
import linuxlog  # noqa: E402
import mkinitramfs  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
_STAT = {
    "entries": re.compile(rb"^stats: python entries: (\d+) ", re.M),
    "fills": re.compile(rb"TLB fills (\d+)", re.M),
    "shadow": re.compile(rb"shadow-table faults (\d+)\)", re.M),
    "insns": re.compile(rb"^stats: guest instructions: (\d+)", re.M),
}
_CALLOUTS = re.compile(rb"^stats: callouts by kind: (.*)$", re.M)


def _bt(kernel: Path, initrd: Path, count: bool) -> tuple[float, bytes, bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "serial.log"
        cmd = [sys.executable, "-m", "bt", "run", "--kernel", str(kernel), "--initrd", str(initrd)]
        cmd += linuxlog.bt_args() + ["--serial", f"file:{log}", "--stats"]
        if count:
            cmd.append("--count-insns")
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, cwd=ROOT, check=False)
        wall = time.perf_counter() - start
        if done.returncode != linuxlog.EXIT_STATUS or linuxlog.MARKER not in log.read_bytes():
            raise SystemExit(f"bt did not reach the marker (status {done.returncode})")
        return wall, done.stderr, log.read_bytes()


def _qemu(kernel: Path, initrd: Path) -> float:
    start = time.perf_counter()
    log, status = linuxlog.qemu_log(kernel, initrd)
    wall = time.perf_counter() - start
    if status != linuxlog.EXIT_STATUS or linuxlog.MARKER not in log:
        raise SystemExit(f"QEMU did not reach the marker (status {status})")
    return wall


def _stat(name: str, stats: bytes) -> int:
    found = _STAT[name].search(stats)
    return int(found.group(1)) if found else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1, help="runs of each (median; 1)")
    ap.add_argument("--count", action="store_true", help="also count guest instructions")
    args = ap.parse_args()
    try:
        kernel = linux_kernel.kernel_path()
    except linux_kernel.KernelUnavailable as exc:
        sys.stderr.write(f"bench_linux: {exc}\n")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        initrd = Path(tmp) / "initrd.gz"
        initrd.write_bytes(mkinitramfs.default_image())
        bts, qemus, stats = [], [], b""
        for _ in range(args.runs):  # interleaved: load that comes and goes hits both
            wall, stats, _log = _bt(kernel, initrd, False)
            bts.append(wall)
            qemus.append(_qemu(kernel, initrd))
        insns = _stat("insns", _bt(kernel, initrd, True)[1]) if args.count else 0
    bt_s, qemu_s = statistics.median(bts), statistics.median(qemus)
    print(f"Linux {linux_kernel.RELEASE} to /init's marker, -M isapc (median of {args.runs})")
    print(f"{'bt (s)':>8} {'QEMU (s)':>8} {'bt/QEMU':>7} {'guest insns':>13}")
    print(f"{bt_s:8.1f} {qemu_s:8.1f} {bt_s / qemu_s:7.1f} {insns or '-':>13}")
    entries, fills = _stat("entries", stats), _stat("fills", stats) + _stat("shadow", stats)
    per = (lambda n: f"{n * 1000 / insns:.2f}/1k insns") if insns else (lambda n: "")
    print(f"Python entries {entries:,} {per(entries)}; TLB fills {fills:,} {per(fills)}")
    kinds = _CALLOUTS.search(stats)
    if kinds:
        print("callouts by kind: " + kinds.group(1).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
