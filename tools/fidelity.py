"""Fidelity matrix: each sensitive instruction by mode, equal to QEMU's result or not.

    python tools/fidelity.py [--markdown] [--record]

Runs guests/bin/fidelity.elf under the engine, once as it is and once with "paging" on its
command line (CR0.PG set, 0-4 MiB identity-mapped with 4 KiB pages); each time the guest tries
every instruction of DESIGN.md's list at CPL 0 and at CPL 3 and prints one line per try
("cpl<N> <INSN> ..."). A cell is "=" when the engine's line equals QEMU's with the same
command line (guests/expected/fidelity.serial, guests/expected/fidelity.paging), "DIFF" when it
does not, and "missing" when either side printed no line for it. --record writes
guests/expected/fidelity.paging from QEMU (tools/qemu_ref.py writes fidelity.serial); it is not
named .serial, as tests/test_guests.py runs guests/bin/NAME.elf for every NAME.serial.
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
PAGED_REFERENCE = ROOT / "guests" / "expected" / "fidelity.paging"
MODES = ("cpl0", "cpl3")
# Column suffix -> (the guest's command line after its name, QEMU's output for it).
RUNS: dict[str, tuple[str, Path]] = {"": ("", REFERENCE), " paged": ("paging", PAGED_REFERENCE)}
COLUMNS = tuple((f"CPL {mode[-1]}{suffix}", mode, suffix) for suffix in RUNS for mode in MODES)
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


def _append(cmdline: str) -> list[str]:
    return ["--append", cmdline] if cmdline else []


def engine_output(cmdline: str = "") -> str:
    """What the fidelity guest prints under the engine with `cmdline` after its name."""
    proc = subprocess.run(
        # Bounded by guest work (the guest runs about 64,000 instructions, 69,000 paged), never
        # by host time; the subprocess timeout only guards against a real hang.
        [
            sys.executable,
            "-m",
            "bt.cli",
            "run",
            "fidelity.elf",
            "--max-insns",
            "1000000",
            *_append(cmdline),
        ],
        cwd=BIN,
        capture_output=True,
        timeout=30 * 60,
        env={"PYTHONPATH": str(ROOT)},
    )
    return proc.stdout.decode(errors="replace")


def record_paged_reference() -> None:
    """QEMU's output of the paging mode, as tools/qemu_ref.py runs QEMU, to PAGED_REFERENCE."""
    sys.path.insert(0, str(ROOT / "tools"))
    from qemu_ref import BASE_ARGS, DEFAULT_TIMEOUT, QEMU

    proc = subprocess.run(
        [QEMU, "-kernel", "fidelity.elf", *BASE_ARGS, "-append", RUNS[" paged"][0]],
        cwd=BIN,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=DEFAULT_TIMEOUT,
        check=False,
    )
    if proc.returncode != 1:  # isa-debug-exit's (0 << 1) | 1: the guest's clean exit
        raise SystemExit(f"QEMU exited with {proc.returncode}: no reference written")
    PAGED_REFERENCE.write_bytes(proc.stdout)


def matrix() -> dict[tuple[str, str], str]:
    """(column, instruction) -> "=", "DIFF" or "missing"."""
    cells: dict[tuple[str, str], str] = {}
    for suffix, (cmdline, reference) in RUNS.items():
        ref = lines_by_cell(reference.read_text())
        got = lines_by_cell(engine_output(cmdline))
        for insn in INSNS:
            for mode in MODES:
                a, b = ref.get((mode, insn)), got.get((mode, insn))
                cells[(f"CPL {mode[-1]}{suffix}", insn)] = (
                    "missing" if a is None or b is None else ("=" if a == b else "DIFF")
                )
    return cells


def _seen(ref: dict[tuple[str, str], str], insn: str) -> str:
    """What QEMU showed the guest at CPL 0 and CPL 3, without the line's prefix."""
    return "; ".join(
        ref.get((m, insn), "").split(" ", 1)[-1].removeprefix(insn).strip() for m in MODES
    )


def render(cells: dict[tuple[str, str], str], markdown: bool) -> str:
    """The matrix as a markdown or plain table; QEMU's paged results only where they differ."""
    ref = lines_by_cell(REFERENCE.read_text())
    paged = lines_by_cell(PAGED_REFERENCE.read_text())
    rows = []
    for insn in INSNS:
        seen, seen_paged = _seen(ref, insn), _seen(paged, insn)
        if seen_paged != seen:
            seen += f" (paged: {seen_paged})"
        rows.append((insn, [cells[(c, insn)] for c, _, _ in COLUMNS], seen))
    names = [c for c, _, _ in COLUMNS]
    if markdown:
        out = [
            f"| instruction | {' | '.join(names)} | what QEMU shows the guest (CPL 0; CPL 3) |",
            "|---|" + "---|" * len(names) + "---|",
        ]
        out += [f"| {i} | {' | '.join(v)} | {s} |" for i, v, s in rows]
        return "\n".join(out)
    width = max(len(i) for i in INSNS)
    return "\n".join(
        f"{i:<{width}}  "
        + " ".join(f"{x:<{len(n)}}" for x, n in zip(v, names, strict=True))
        + f"  {s}"
        for i, v, s in rows
    )


def main() -> int:
    """Print the matrix; exit 1 when a cell is not equal."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--record", action="store_true", help="write the paged QEMU reference first")
    args = ap.parse_args()
    if args.record:
        record_paged_reference()
    cells = matrix()
    print(render(cells, args.markdown))
    return 0 if all(v == "=" for v in cells.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
