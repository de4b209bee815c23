"""Measures what Unicorn's CPU core (so bt, which copies these instructions) gives for the flags
the Intel SDM leaves undefined: each rule of README.md's "Undefined flags" table is checked on
random operands and initial flags, and printed with how often it held.

    python tools/undefined_flags_probe.py [--runs N]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable

import keystone
from unicorn import UC_ARCH_X86, UC_MODE_32, Uc
from unicorn import x86_const as R

CF, PF, AF, ZF, SF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x800
ARITH = CF | PF | AF | ZF | SF | OF
_KS = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)

# (a, c, d, flags before, flags after, eax after) -> the rule holds
Rule = Callable[[int, int, int, int, int, int], bool]


def _msb(x: int) -> int:
    return (x >> 31) & 1


def _parity(x: int) -> bool:
    return bin(x & 0xFF).count("1") % 2 == 0


def _of(f: int) -> int:
    return (f >> 11) & 1


def _multi(c: int) -> bool:
    return (c & 31) > 1


ROWS: list[tuple[str, str, Rule]] = [
    ("and eax, ecx", "AF = 0", lambda a, c, d, f0, f, r: not f & AF),
    (
        "shl eax, cl",
        "OF = MSB(result) ^ CF, AF = 0",
        lambda a, c, d, f0, f, r: not _multi(c) or (_of(f) == _msb(r) ^ (f & 1) and not f & AF),
    ),
    ("shr eax, cl", "OF = 0, AF = 0", lambda a, c, d, f0, f, r: not _multi(c) or not f & (OF | AF)),
    ("sar eax, cl", "OF = 0, AF = 0", lambda a, c, d, f0, f, r: not _multi(c) or not f & (OF | AF)),
    (
        "rol eax, cl",
        "OF = MSB(result) ^ CF",
        lambda a, c, d, f0, f, r: not _multi(c) or _of(f) == _msb(r) ^ (f & 1),
    ),
    (
        "ror eax, cl",
        "OF = bit 31 ^ bit 30 of result",
        lambda a, c, d, f0, f, r: not _multi(c) or _of(f) == _msb(r) ^ ((r >> 30) & 1),
    ),
    (
        "rcl eax, cl",
        "OF = MSB(result) ^ MSB(operand)",
        lambda a, c, d, f0, f, r: not _multi(c) or _of(f) == _msb(r) ^ _msb(a),
    ),
    (
        "rcr eax, cl",
        "OF = MSB(result) ^ MSB(operand)",
        lambda a, c, d, f0, f, r: not _multi(c) or _of(f) == _msb(r) ^ _msb(a),
    ),
    (
        "shld eax, edx, cl",
        "OF = MSB(result) ^ MSB(operand << count-1), AF = 0",
        lambda a, c, d, f0, f, r: (
            not _multi(c) or (_of(f) == _msb(r) ^ _msb(a << ((c & 31) - 1)) and not f & AF)
        ),
    ),
    (
        "shrd eax, edx, cl",
        "OF = MSB(result) ^ MSB(EDX:EAX >> count-1), AF = 0",
        lambda a, c, d, f0, f, r: (
            not _multi(c)
            or (_of(f) == _msb(r) ^ _msb((d << 32 | a) >> ((c & 31) - 1)) and not f & AF)
        ),
    ),
    (
        "mul ecx",
        "SF, ZF, PF of EAX; AF = 0",
        lambda a, c, d, f0, f, r: (
            bool(f & SF) == bool(_msb(r))
            and bool(f & ZF) == (r == 0)
            and bool(f & PF) == _parity(r)
            and not f & AF
        ),
    ),
    (
        "imul eax, ecx",
        "SF, ZF, PF of the result; AF = 0",
        lambda a, c, d, f0, f, r: (
            bool(f & SF) == bool(_msb(r))
            and bool(f & ZF) == (r == 0)
            and bool(f & PF) == _parity(r)
            and not f & AF
        ),
    ),
    (
        "xor edx, edx; popfd; div ecx",
        "all six unchanged",
        lambda a, c, d, f0, f, r: c == 0 or f & ARITH == f0 & ARITH,
    ),
    (
        "bsf eax, ecx",
        "CF = OF = AF = 0, SF and PF of the source, dest kept if source 0",
        lambda a, c, d, f0, f, r: (
            not f & (CF | OF | AF)
            and bool(f & SF) == bool(_msb(c))
            and bool(f & PF) == _parity(c)
            and (c != 0 or r == a)
        ),
    ),
    (
        "bsr eax, ecx",
        "CF = OF = AF = 0, SF and PF of the source, dest kept if source 0",
        lambda a, c, d, f0, f, r: (
            not f & (CF | OF | AF)
            and bool(f & SF) == bool(_msb(c))
            and bool(f & PF) == _parity(c)
            and (c != 0 or r == a)
        ),
    ),
    (
        "bts eax, ecx",
        "OF, SF, ZF, AF, PF unchanged",
        lambda a, c, d, f0, f, r: f & (ARITH & ~CF) == f0 & (ARITH & ~CF),
    ),
    ("daa", "OF = 0", lambda a, c, d, f0, f, r: not f & OF),
    ("das", "OF = 0", lambda a, c, d, f0, f, r: not f & OF),
    (
        "aaa",
        "OF, SF, ZF, PF unchanged",
        lambda a, c, d, f0, f, r: f & (OF | SF | ZF | PF) == f0 & (OF | SF | ZF | PF),
    ),
    (
        "aas",
        "OF, SF, ZF, PF unchanged",
        lambda a, c, d, f0, f, r: f & (OF | SF | ZF | PF) == f0 & (OF | SF | ZF | PF),
    ),
    ("aam", "OF = AF = CF = 0", lambda a, c, d, f0, f, r: not f & (OF | AF | CF)),
    ("aad", "OF = AF = CF = 0", lambda a, c, d, f0, f, r: not f & (OF | AF | CF)),
]


def run(text: str, a: int, c: int, d: int, flags: int) -> tuple[int, int]:
    """EFLAGS and EAX after `text` from the given EAX, ECX, EDX and EFLAGS."""
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, 0x10000)
    if "popfd" in text:  # after XOR EDX, EDX (DIV must not fault): the flags come from the stack
        text = f"push {flags | 2:#x}; " + text
    code = bytes(_KS.asm(text, 0x1000)[0])
    uc.mem_write(0x1000, code)
    for reg, val in (
        (R.UC_X86_REG_EAX, a),
        (R.UC_X86_REG_ECX, c),
        (R.UC_X86_REG_EDX, d),
        (R.UC_X86_REG_ESP, 0x8000),
        (R.UC_X86_REG_EFLAGS, flags | 2),
    ):
        uc.reg_write(reg, val)
    uc.emu_start(0x1000, 0x1000 + len(code))
    return int(uc.reg_read(R.UC_X86_REG_EFLAGS)), int(uc.reg_read(R.UC_X86_REG_EAX))


def main() -> None:
    """Check every row on random inputs and print how often its rule held."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=300)
    runs = ap.parse_args().runs
    rng = random.Random(1)
    for text, rule, holds in ROWS:
        ok = 0
        for _ in range(runs):
            a, c, d = rng.getrandbits(32), rng.getrandbits(32), rng.getrandbits(32)
            if text.startswith("bs") and rng.random() < 0.3:
                c = 0
            f0 = rng.getrandbits(12) & ARITH
            f, r = run(text, a, c, d, f0)
            ok += holds(a, c, d, f0, f, r)
        print(f"{text:28} {rule:68} {ok}/{runs}")


if __name__ == "__main__":
    main()
