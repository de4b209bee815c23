"""Measures the limits and the host-memory bounds on guests/runaway.asm (the README's figures).

    python tools/limits_check.py [--timeout 5] [--memory]

For each endless guest (a jump into unassigned memory, a port I/O loop, chained code spinning
with IF clear) it runs `bt run --timeout T` and reports the process's wall time and status, then
sends SIGINT and SIGTERM to running guests and reports how long after the signal the process was
gone. With --memory it also runs the 100,000-rewrite self-modifying loop and the 2,097,152-block
guest to their end and reports their RSS (minutes of CPU); the peak is the largest child's so
far, so the smaller run goes first.
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


def _rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def memory() -> None:
    print("whole runs (default --cache-size): RSS once running, at the end, and the peak")
    for mode, mem in (("smc", "128"), ("blocks", "64")):
        start = time.monotonic()
        proc = subprocess.Popen(
            [*BT, "--append", mode, "--mem", mem, "--stats"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENV,
        )
        samples: list[float] = []
        while proc.poll() is None:  # VmRSS every 0.2 s (Linux); the peak comes from wait4
            rss = _rss_mib(proc.pid)
            if rss is not None:
                samples.append(rss)
            time.sleep(0.2)
        out, err = proc.communicate()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        early = samples[min(5, len(samples) - 1)] if samples else float("nan")
        late = samples[-1] if samples else float("nan")
        lines = out.decode(errors="replace").strip().splitlines()
        flush = [ln for ln in err.decode().splitlines() if "flushes" in ln]
        print(
            f"  {mode:<7} status {proc.returncode}  RSS at 1 s {early:6.1f} MiB, at the end "
            f"{late:6.1f} MiB, peak {peak:6.1f} MiB  {time.monotonic() - start:7.1f} s  "
            f"{lines[-1] if lines else ''}  {flush[0].removeprefix('stats: ') if flush else ''}"
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
