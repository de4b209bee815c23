"""Shows why bt never resumes after emu_start's timeout: compares it with the backstop.

A loop adds 1 to [0x2000] and EAX and swaps ECX through [0x2004] and back. Stopped and
resumed many times, the three must stay equal. With emu_start's timeout they stop agreeing
within the first few stops (Unicorn checks the stop request after memory accesses and, with a
timeout set, resumes at the start of the interrupted block); with bt's backstop they agree
after every stop. Run: python tools/backstop_check.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import keystone
from unicorn import UC_ARCH_X86, UC_MODE_32, Uc
from unicorn import x86_const as R

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bt.backstop import Backstop  # noqa: E402

LOOP = "top: add dword ptr [0x2000], 1; xchg ecx, [0x2004]; inc eax; xchg ecx, [0x2004]; jmp top"
TOP = 0x1000
MARK = 0x12345678


def loop_cpu() -> tuple[Uc, int]:
    """A CPU holding the loop at TOP, and the loop's size."""
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    code = bytes(ks.asm(LOOP, TOP)[0])
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 0x10000)
    uc.mem_write(TOP, code)
    uc.mem_write(0x2004, MARK.to_bytes(4, "little"))
    return uc, len(code)


def consistent(uc: Uc) -> bool:
    """Whether the loop's state is one it can be in between passes."""
    u32 = lambda a: int.from_bytes(uc.mem_read(a, 4), "little")  # noqa: E731
    return (
        uc.reg_read(R.UC_X86_REG_EAX) == u32(0x2000)
        and u32(0x2004) == MARK
        and uc.reg_read(R.UC_X86_REG_ECX) == 0
    )


def first_bad_timeout_stop(stops: int, timeout_us: int = 200) -> int | None:
    """Stop the loop `stops` times by emu_start's timeout; the first stop after which the
    state at the loop's top is inconsistent (None if none was)."""
    uc, _size = loop_cpu()
    pc = TOP
    for i in range(stops):
        uc.emu_start(pc, 0xFFFF, timeout=timeout_us)
        pc = uc.reg_read(R.UC_X86_REG_EIP)
        if pc == TOP and not consistent(uc):
            return i + 1
    return None


def bad_backstop_stops(stops: int) -> int:
    """Stop the loop `stops` times by the backstop; how many left an inconsistent state."""
    uc, size = loop_cpu()
    backstop = Backstop(uc, TOP, TOP + size - 1)
    rng = random.Random(1)
    pc, bad = TOP, 0
    for _ in range(stops):
        uc.emu_start(pc, 0xFFFF, count=backstop.arm(rng.randint(1, 40)))
        pc = uc.reg_read(R.UC_X86_REG_EIP)
        if pc == TOP and not consistent(uc):
            bad += 1
    return bad


def main() -> int:
    """Print both results."""
    n = 2000
    first = first_bad_timeout_stop(n)
    print(
        f"emu_start timeout: {n} stops, first inconsistent state after stop "
        f"{first if first is not None else 'none'}"
    )
    uc, size = loop_cpu()
    mode = Backstop(uc, TOP, TOP + size - 1).mode
    print(f"backstop ({mode}): {n} stops, {bad_backstop_stops(n)} inconsistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
