"""Transparency: what the guest observes from each sensitive instruction equals what QEMU shows it.

Each case picks, from a guest's QEMU reference output, the lines that report one instruction
class, and requires the engine to print exactly those lines.
"""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from limits import HANG_GUARD, limit_args

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
EXPECTED = ROOT / "guests" / "expected"

CASES = {
    "SGDT": ("descriptors", r"SGDT"),
    "SIDT": ("descriptors", r"SIDT"),
    "SLDT": ("descriptors", r"SLDT"),
    "STR": ("descriptors", r"^STR "),
    "SMSW": ("descriptors", r"SMSW"),
    "LGDT/LIDT": ("descriptors", r"after (o16 )?L[GI]DT"),
    "LLDT/LTR": ("descriptors", r"after L(LDT|TR)|TSS descriptor"),
    "LMSW": ("descriptors", r"^LMSW"),
    "PUSHF/POPF IF": ("flags", r"(CLI|STI|POPF).*(IF|eflags)"),
    "PUSHF/POPF IOPL": ("flags", r"IOPL"),
    "MOV from CS/SS": ("segments", r"^(entry MOV r32 from|MOV r(16|32),|MOV m)"),
    "PUSH CS/SS/DS/ES/FS/GS": ("segments", r"PUSH (cs|ss|ds|es|fs|gs)"),
    "POP/MOV to segment": ("segments", r"^(POP|o16 POP|MOV fs|based segment)"),
    "far JMP/CALL/RET": ("segments", r"far|RETF"),
    "LAR": ("segments", r"^lar "),
    "LSL": ("segments", r"^lsl "),
    "VERR": ("segments", r"^verr "),
    "VERW": ("segments", r"^verw "),
    "MOV CRn/DRn, CLTS": ("control", r"cr[0-4]|CLTS|[dD][rR][0-7]"),
    "CPUID": ("control", r"CPUID"),
    "RDMSR/WRMSR": ("control", r"MSR|SYSENTER"),
    "IN/OUT/INS/OUTS": ("io", r"."),
    "INT n/INTO/INT3/IRET": ("interrupts", r"."),
}


@cache
def engine_output(guest: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bt.cli", "run", f"{guest}.elf", *limit_args(guest)],
        cwd=BIN,
        capture_output=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    return proc.stdout.decode(errors="replace")


def pick(text: str, pattern: str) -> list[str]:
    rx = re.compile(pattern)
    return [line for line in text.splitlines() if rx.search(line)]


@pytest.mark.parametrize("what", sorted(CASES))
def test_guest_sees_what_qemu_shows(what: str) -> None:
    guest, pattern = CASES[what]
    reference = pick((EXPECTED / f"{guest}.serial").read_text(), pattern)
    assert reference, f"the {guest} guest reports nothing for {what}"
    assert pick(engine_output(guest), pattern) == reference
