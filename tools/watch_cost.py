"""What an enabled data breakpoint costs a guest that never hits it: a loop of loads and
stores alone, with a write watch on another page, and with one on the page the loop writes
(each a flat guest under bt: bt/watchpoints.py's memory hook and one-instruction blocks)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.flatguest import time_flat_guest  # noqa: E402

# DR0 and DR7 (G0, R/W0 = 01 write, LEN0 = 11 four bytes) before the loop.
_ARM = "mov eax, {addr}\n mov dr0, eax\n mov eax, 0xd0002\n mov dr7, eax"
CASES = {
    "no breakpoint": "",
    "write watch, another page": _ARM.format(addr=0x380000),
    "write watch, same page": _ARM.format(addr=0x300100),
}


def run(arm: str, n: int) -> float:
    """Seconds for `n` iterations of a load, a read-modify-write and a store after `arm`."""
    text = f"""
        {arm}
        mov ecx, {n}
    again:
        mov eax, dword ptr [0x300000]
        add dword ptr [0x300004], eax
        mov dword ptr [0x300008], ecx
        dec ecx
        jnz again
        mov al, 0
        out 0xf4, al
    """
    return time_flat_guest(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="median of this many runs")
    args = parser.parse_args()
    if args.iterations <= 0 or args.runs <= 0:
        print("watch_cost: --iterations and --runs must be positive", file=sys.stderr)
        return 2
    base = None
    for name, arm in CASES.items():
        times = sorted(run(arm, args.iterations) for _ in range(args.runs))
        t = times[len(times) // 2]
        base = base or t
        per = t / args.iterations * 1e9 / 5  # five guest instructions an iteration
        print(f"{name:28s} {t:7.3f} s  {per:7.1f} ns/insn  {t / base:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
