"""Fidelity matrix: each sensitive instruction by mode, equal to QEMU's result or not.

    python tools/fidelity.py [--markdown]

Runs guests/bin/fidelity.elf under the engine; the guest tries every instruction of DESIGN.md's
list at CPL 0 and at CPL 3 and prints one line per try ("cpl<N> <INSN> ..."). A cell is "="
when the engine's line equals QEMU's (guests/expected/fidelity.serial), "DIFF" when it does
not, and "missing" when either side printed no line for it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
REFERENCE = ROOT / "guests" / "expected" / "fidelity.serial"
MODES = ("cpl0", "cpl3")
INSNS = (
    "CLI",
    "STI",
    "HLT",
    "IN",
    "OUT",
    "INS",
    "OUTS",
    "LGDT",
    "LIDT",
    "LLDT",
    "LTR",
    "LMSW",
    "MOV CRn",
    "MOV DRn",
    "INVLPG",
    "INVD",
    "WBINVD",
    "RDMSR",
    "WRMSR",
    "CLTS",
    "SGDT",
    "SIDT",
    "SLDT",
    "SMSW",
    "STR",
    "PUSHF",
    "POPF",
    "LAR",
    "LSL",
    "VERR",
    "VERW",
    "POP Sreg",
    "PUSH Sreg",
    "MOV from Sreg",
    "MOV to Sreg",
    "far CALL",
    "far JMP",
    "INT n",
    "INT n (gate DPL 0)",
    "far RET",
    "IRET",
    "CPUID",
    "RDTSC",
    "RDPMC",
    "SYSENTER",
    "SYSEXIT",
    "INTO",
    "BOUND",
)
_LINE = re.compile(r"^(cpl[03]) (.+?) (fault|handler|reached|done|in range|not halted|\w+=)")


def lines_by_cell(text: str) -> dict[tuple[str, str], str]:
    """(mode, instruction) -> the guest's line for it."""
    cells: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        m = _LINE.match(line)
        if m:
            cells[(m.group(1), m.group(2))] = line
    return cells


def engine_output() -> str:
    """What the fidelity guest prints under the engine."""
    proc = subprocess.run(
        # Bounded by guest work (the guest runs about 64,000 instructions), never by host time;
        # the subprocess timeout only guards against a real hang.
        [sys.executable, "-m", "bt.cli", "run", "fidelity.elf", "--max-insns", "1000000"],
        cwd=BIN,
        capture_output=True,
        timeout=30 * 60,
        env={"PYTHONPATH": str(ROOT)},
    )
    return proc.stdout.decode(errors="replace")


def matrix() -> dict[tuple[str, str], str]:
    """(mode, instruction) -> "=", "DIFF" or "missing"."""
    ref = lines_by_cell(REFERENCE.read_text())
    got = lines_by_cell(engine_output())
    cells: dict[tuple[str, str], str] = {}
    for insn in INSNS:
        for mode in MODES:
            a, b = ref.get((mode, insn)), got.get((mode, insn))
            cells[(mode, insn)] = (
                "missing" if a is None or b is None else ("=" if a == b else "DIFF")
            )
    return cells


def render(cells: dict[tuple[str, str], str], markdown: bool) -> str:
    """The matrix as a markdown or plain table."""
    ref = lines_by_cell(REFERENCE.read_text())
    rows = []
    for insn in INSNS:
        seen = "; ".join(
            ref.get((m, insn), "").split(" ", 1)[-1].removeprefix(insn).strip() for m in MODES
        )
        rows.append((insn, cells[("cpl0", insn)], cells[("cpl3", insn)], seen))
    if markdown:
        out = [
            "| instruction | CPL 0 | CPL 3 | what QEMU shows the guest (CPL 0; CPL 3) |",
            "|---|---|---|---|",
        ]
        out += [f"| {i} | {a} | {b} | {s} |" for i, a, b, s in rows]
        return "\n".join(out)
    width = max(len(i) for i in INSNS)
    return "\n".join(f"{i:<{width}}  {a:<7} {b:<7} {s}" for i, a, b, s in rows)


def main() -> int:
    """Print the matrix; exit 1 when a cell is not equal."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    cells = matrix()
    print(render(cells, args.markdown))
    return 0 if all(v == "=" for v in cells.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
