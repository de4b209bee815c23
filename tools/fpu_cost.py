"""What the guest-visible x87 pointers cost: a loop of x87 arithmetic alone, and with FNSTENV,
FNSAVE/FRSTOR or FXSAVE in it (each save is one callout), under bt as a flat guest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.flatguest import time_flat_guest  # noqa: E402

LOOPS = {
    "x87 arithmetic only": "",
    "+ fnstenv": "fnstenv [0x300100]",
    "+ fnsave/frstor": "fnsave [0x300100]\n frstor [0x300100]",
    "+ fxsave": "fxsave [0x300200]",
}


def run(body: str, n: int) -> float:
    """Seconds for `n` iterations of FLD/FADD/FSTP plus `body`."""
    text = f"""
        mov ecx, {n}
    again:
        fld dword ptr [0x300000]
        fadd dword ptr [0x300000]
        fstp dword ptr [0x300004]
        {body}
        dec ecx
        jnz again
        mov al, 0
        out 0xf4, al
    """
    return time_flat_guest(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20000, help="loop iterations (default 20000)")
    args = parser.parse_args()
    base = None
    for name, body in LOOPS.items():
        dt = run(body, args.n)
        base = dt if base is None else base
        extra = (dt - base) / args.n * 1e6
        print(f"{name:22s} {dt:7.3f} s  {extra:6.1f} us per save over the arithmetic")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
