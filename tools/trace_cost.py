"""Measures what tracing costs: time, peak memory and file size for N guest instructions."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(guest: Path, insns: int, extra: list[str]) -> tuple[float, int]:
    """Wall seconds and peak resident KiB of one `bt run` limited to `insns` instructions."""
    cmd = [
        sys.executable,
        "-m",
        "bt.cli",
        "run",
        str(guest),
        "--serial",
        "none",
        "--max-insns",
        str(insns),
        *extra,
    ]
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.environ["PYTHONPATH"] = str(ROOT)
        os.execv(sys.executable, cmd)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 6):
        raise SystemExit(f"trace_cost: {' '.join(cmd)} exited {code}")
    return elapsed, usage.ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--guest", default=str(ROOT / "guests" / "bin" / "compute.elf"))
    parser.add_argument("--insns", type=int, default=10_000_000)
    args = parser.parse_args()
    guest = Path(args.guest)
    with tempfile.TemporaryDirectory() as tmp:
        base, base_rss = run(guest, args.insns, [])
        print(f"{guest.name}, {args.insns:,} guest instructions")
        print(
            f"{'run':<22}{'seconds':>9}{'slowdown':>10}{'peak RSS':>12}{'file':>12}{'records':>13}"
        )
        print(f"{'no trace':<22}{base:>9.2f}{1:>9.1f}x{base_rss / 1024:>9.0f} MiB")
        for level in ("block", "insn"):
            out = Path(tmp) / f"t.{level}.trace.gz"
            secs, rss = run(guest, args.insns, ["--trace", str(out), "--trace-level", level])
            with subprocess.Popen(["gzip", "-dc", str(out)], stdout=subprocess.PIPE) as gz:
                assert gz.stdout is not None
                records = sum(1 for _ in gz.stdout) - 1
            size = out.stat().st_size
            print(
                f"{'trace ' + level + ' (.gz)':<22}{secs:>9.2f}{secs / base:>9.1f}x"
                f"{rss / 1024:>9.0f} MiB{size / 2**20:>8.1f} MiB{records:>13,}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
