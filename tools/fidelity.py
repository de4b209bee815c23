"""Fidelity matrix: each sensitive instruction by mode, equal to QEMU's result or not.

    python tools/fidelity.py [--markdown] [--record]

Runs guests/bin/fidelity.elf under the engine, once as it is and once with "paging" on its
command line (CR0.PG set, 0-4 MiB identity-mapped with 4 KiB pages); each time the guest tries
every instruction of DESIGN.md's list at CPL 0 and at CPL 3 and prints one line per try
("cpl<N> <INSN> ..."). Then guests/bin/fidelity16.elf, which tries their 16-bit forms in a
16-bit code segment at CPL 0 and CPL 3 ("pm16cpl<N> <INSN> ...") and in real mode ("real").
A cell is "=" when the engine's line equals QEMU's with the same command line
(guests/expected/fidelity.serial, fidelity.paging, fidelity16.serial), "DIFF" when it does
not, and "missing" when either side printed no line for it. --record writes
guests/expected/fidelity.paging from QEMU (tools/qemu_ref.py writes the .serial ones; the paged
reference is not named .serial, as tests/test_guests.py runs guests/bin/NAME.elf for every
NAME.serial), and fidelity16.v86, the V86 column's ("fidelity16.elf v86": VM=1, IOPL 0).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
REFERENCE = ROOT / "guests" / "expected" / "fidelity.serial"
PAGED_REFERENCE = ROOT / "guests" / "expected" / "fidelity.paging"
REFERENCE16 = ROOT / "guests" / "expected" / "fidelity16.serial"
V86_REFERENCE = ROOT / "guests" / "expected" / "fidelity16.v86"
MODES = ("cpl0", "cpl3")
MODES16 = ("real", "pm16cpl0", "pm16cpl3")


@dataclass(frozen=True)
class Run:
    """One run of a fidelity guest: its columns, as (column name, the lines' mode word)."""

    guest: str  # guests/bin/GUEST.elf
    cmdline: str  # after the guest's name
    reference: Path  # QEMU's output for it
    columns: tuple[tuple[str, str], ...]


RUNS = (
    Run("fidelity", "", REFERENCE, (("CPL 0", "cpl0"), ("CPL 3", "cpl3"))),
    Run("fidelity", "paging", PAGED_REFERENCE, (("CPL 0 paged", "cpl0"), ("CPL 3 paged", "cpl3"))),
    Run(
        "fidelity16",
        "",
        REFERENCE16,
        (("real", "real"), ("PM16 CPL 0", "pm16cpl0"), ("PM16 CPL 3", "pm16cpl3")),
    ),
    Run("fidelity16", "v86", V86_REFERENCE, (("V86", "v86"),)),
)


def runs() -> tuple[Run, ...]:
    """Every run of the matrix."""
    return RUNS


def columns() -> tuple[str, ...]:
    """The matrix's column names, in order."""
    return tuple(name for run in runs() for name, _ in run.columns)


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
_LINE = re.compile(
    r"^(cpl[03]|pm16cpl[03]|real|v86) (.+?) (fault|handler|reached|done|in range|not halted|\w+=)"
)


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


def engine_output(cmdline: str = "", guest: str = "fidelity") -> str:
    """What a fidelity guest prints under the engine with `cmdline` after its name."""
    proc = subprocess.run(
        # Bounded by guest work (fidelity runs about 64,000 instructions, 69,000 paged,
        # fidelity16 120,000), never by host time; the timeout only guards against a hang.
        [
            sys.executable,
            "-m",
            "bt.cli",
            "run",
            f"{guest}.elf",
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


def record_reference(run: Run) -> None:
    """QEMU's output of `run`, as tools/qemu_ref.py runs QEMU, to its reference."""
    sys.path.insert(0, str(ROOT / "tools"))
    from qemu_ref import BASE_ARGS, DEFAULT_TIMEOUT, QEMU

    proc = subprocess.run(
        [QEMU, "-kernel", f"{run.guest}.elf", *BASE_ARGS, "-append", run.cmdline],
        cwd=BIN,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=DEFAULT_TIMEOUT,
        check=False,
    )
    if proc.returncode != 1:  # isa-debug-exit's (0 << 1) | 1: the guest's clean exit
        raise SystemExit(f"QEMU exited with {proc.returncode}: no reference written")
    run.reference.write_bytes(proc.stdout)


def record() -> None:
    """The references tools/qemu_ref.py does not write: the paged and the V86 runs'."""
    record_reference(RUNS[1])
    record_reference(RUNS[3])


def matrix() -> dict[tuple[str, str], str]:
    """(column, instruction) -> "=", "DIFF" or "missing"."""
    cells: dict[tuple[str, str], str] = {}
    for run in runs():
        ref = lines_by_cell(run.reference.read_text())
        got = lines_by_cell(engine_output(run.cmdline, run.guest))
        for insn in INSNS:
            for column, mode in run.columns:
                a, b = ref.get((mode, insn)), got.get((mode, insn))
                cells[(column, insn)] = (
                    "missing" if a is None or b is None else ("=" if a == b else "DIFF")
                )
    return cells


def _seen(ref: dict[tuple[str, str], str], insn: str, modes: tuple[str, ...]) -> str:
    """What QEMU showed the guest in `modes`, without the lines' prefixes."""
    return "; ".join(
        ref.get((m, insn), "").split(" ", 1)[-1].removeprefix(insn).strip() for m in modes
    )


def render(cells: dict[tuple[str, str], str], markdown: bool) -> str:
    """The matrix as a markdown or plain table; QEMU's paged results only where they differ."""
    ref = lines_by_cell(REFERENCE.read_text())
    paged = lines_by_cell(PAGED_REFERENCE.read_text())
    ref16 = lines_by_cell(REFERENCE16.read_text())
    names = columns()
    rows = []
    for insn in INSNS:
        seen, seen_paged = _seen(ref, insn, MODES), _seen(paged, insn, MODES)
        if seen_paged != seen:
            seen += f" (paged: {seen_paged})"
        rows.append((insn, [cells[(c, insn)] for c in names], seen, _seen(ref16, insn, MODES16)))
    if markdown:
        out = [
            f"| instruction | {' | '.join(names)} | what QEMU shows the guest (CPL 0; CPL 3) "
            "| in 16-bit code (real mode; PM16 CPL 0; PM16 CPL 3) |",
            "|---|" + "---|" * len(names) + "---|---|",
        ]
        out += [f"| {i} | {' | '.join(v)} | {s} | {s16} |" for i, v, s, s16 in rows]
        return "\n".join(out)
    width = max(len(i) for i in INSNS)
    return "\n".join(
        f"{i:<{width}}  "
        + " ".join(f"{x:<{len(n)}}" for x, n in zip(v, names, strict=True))
        + f"  {s}"
        for i, v, s, _ in rows
    )


def main() -> int:
    """Print the matrix; exit 1 when a cell is not equal."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--record", action="store_true", help="write the QEMU references first")
    args = ap.parse_args()
    if args.record:
        record()
    cells = matrix()
    print(render(cells, args.markdown))
    return 0 if all(v == "=" for v in cells.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
