"""Measures the limits and the host-memory bounds on guests/runaway.asm (the README's figures).

    python tools/limits_check.py [--timeout 5] [--memory]

For each endless guest (a jump into unassigned memory, a port I/O loop, chained code spinning
with IF clear) it runs `bt run --timeout T` and reports the process's wall time and status, then
sends SIGINT and SIGTERM to running guests and reports how long after the signal the process was
gone. With --memory it also runs the 2,097,152-block guest and the 100,000-rewrite
self-modifying loop to their end and reports each process's peak RSS (minutes of CPU).
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUEST = str(ROOT / "guests" / "bin" / "runaway.elf")
BT = [sys.executable, "-m", "bt.cli", "run", GUEST]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _last_line(err: bytes) -> str:
    lines = err.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


def timeouts(seconds: float) -> None:
    print(f"--timeout {seconds:g}: wall time of the whole process (start-up included)")
    for mode in ("unassigned", "portloop", "spin"):
        start = time.monotonic()
        proc = subprocess.run(
            [*BT, "--append", mode, "--timeout", f"{seconds:g}"], capture_output=True, env=ENV
        )
        wall = time.monotonic() - start
        print(f"  {mode:<11} status {proc.returncode}  {wall:6.2f} s  {_last_line(proc.stderr)}")


def signals(settle: float = 2.0) -> None:
    print("signals: time from the signal to the process's exit")
    for mode in ("unassigned", "spin"):
        for signum in (signal.SIGINT, signal.SIGTERM):
            proc = subprocess.Popen(
                [*BT, "--append", mode], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV
            )
            time.sleep(settle)
            sent = time.monotonic()
            proc.send_signal(signum)
            _out, err = proc.communicate()
            took = time.monotonic() - sent
            name = signal.Signals(signum).name
            print(
                f"  {mode:<11} {name:<8} status {proc.returncode}  {took * 1000:6.1f} ms  "
                f"{_last_line(err)}"
            )


def memory() -> None:
    print("peak RSS of whole runs (default --cache-size)")
    for mode, mem in (("blocks", "64"), ("smc", "128")):
        start = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        proc = subprocess.run(
            [*BT, "--append", mode, "--mem", mem, "--stats"], capture_output=True, env=ENV
        )
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        out = proc.stdout.decode(errors="replace").strip().splitlines()
        stats = [ln for ln in proc.stderr.decode().splitlines() if "flushes" in ln]
        print(
            f"  {mode:<7} status {proc.returncode}  peak RSS {max(peak, before) / 1024:6.1f} MiB"
            f"  {time.monotonic() - start:7.1f} s  {out[-1] if out else ''}  "
            f"{stats[0].removeprefix('stats: ') if stats else ''}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--memory", action="store_true", help="also the long memory runs")
    args = ap.parse_args()
    timeouts(args.timeout)
    signals()
    if args.memory:
        memory()
    return 0


if __name__ == "__main__":
    sys.exit(main())
