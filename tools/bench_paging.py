"""The paging benchmark's table: pagebench under bt, bare Unicorn's own page walker and QEMU.

bt runs as a whole `bt run --stats` process (its wall time, and the run loop's own time and
counters from the statistics it prints); bare Unicorn (tools/bare_unicorn.py) walks the guest's
page tables natively and delivers its #PFs through the IDT as a CPU at CPL 0 would: the limit
for a Unicorn-based monitor; QEMU is the whole `qemu-system-i386 -kernel` process as
tools/qemu_ref.py runs it. Every run's COM1 output must equal QEMU's reference. Guest
instructions are counted once by an instrumented bare run (a Python call per block, about a
minute; bt's `--count-insns` gives the same count within 2 instructions but takes 2-3 times as
long), as bench.py counts its other guests.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bare_unicorn import run_bare
from qemu_ref import run_guest

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
EXPECTED = ROOT / "guests" / "expected"
PAGING = {
    "pagebench": "4 address spaces by MOV CR3, 16,384 demand and 19,968 copy-on-write #PFs",
}
_STATS = {
    "emu": re.compile(rb"^stats: time: ([0-9.]+) s$", re.M),
    "entries": re.compile(rb"^stats: python entries: (\d+) ", re.M),
    "fills": re.compile(rb"^stats: python entries: .* TLB fills (\d+), ", re.M),
    "shadow": re.compile(rb"^stats: python entries: .* shadow-table faults (\d+)\)$", re.M),
    "faults": re.compile(rb"#PF page fault: (\d+)"),
}


@dataclass(frozen=True, slots=True)
class BtProcess:
    """One whole `bt run --stats` process: wall time and what its statistics say."""

    wall: float
    emu: float  # the run loop's time: the guest's execution, start-up and loading excluded
    python_entries: int
    tlb_fills: int  # through the fill hook (guest paging off, or code the shadow cannot serve)
    shadow_faults: int  # Unicorn's own walker missing in the shadow tables
    page_faults: int


def _expected(name: str) -> bytes:
    return (EXPECTED / f"{name}.serial").read_bytes()


def run_bt_process(name: str) -> BtProcess:
    """Time one `python -m bt run NAME.elf --stats` from guests/bin, as a user runs it."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bt", "run", f"{name}.elf", "--stats"],
        cwd=BIN,
        capture_output=True,
        timeout=1800,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    wall = time.perf_counter() - start
    if proc.stdout != _expected(name):
        raise SystemExit(f"bt: {name} printed what QEMU does not:\n{proc.stdout[-300:]!r}")
    found = {k: rx.search(proc.stderr) for k, rx in _STATS.items()}
    missing = [k for k, m in found.items() if m is None]
    if missing:
        raise SystemExit(f"bt: {name}: --stats lacks {missing}:\n{proc.stderr.decode()}")
    value = {k: m.group(1) for k, m in found.items() if m is not None}
    return BtProcess(
        wall,
        float(value["emu"]),
        int(value["entries"]),
        int(value["fills"]),
        int(value["shadow"]),
        int(value["faults"]),
    )


def time_qemu(name: str) -> float:
    """Wall time of the whole QEMU process, as tools/qemu_ref.py runs the guest."""
    start = time.perf_counter()
    ref = run_guest(name, timeout=600)
    seconds = time.perf_counter() - start
    if ref.serial != _expected(name):
        raise SystemExit(f"QEMU: {name} printed something else than its reference")
    return seconds


def paging_table(names: list[str], runs: int) -> None:
    """Print the paging table: medians of `runs` runs of each, interleaved per round."""
    head = (
        f"{'guest':<10} {'guest insns':>11} {'bt (s)':>7} {'bt emu':>7} {'bare (s)':>8} "
        f"{'QEMU (s)':>8} {'bt/bare':>7} {'bt/QEMU':>7} {'bare/QEMU':>9} "
        f"{'fills/1k':>8} {'py/1k':>7}"
    )
    print(head)
    print("-" * len(head))
    notes = []
    for name in names:
        bts: list[BtProcess] = []
        bares, qemus = [], []
        for _ in range(runs):  # interleaved, so load that comes and goes hits all three
            bts.append(run_bt_process(name))
            bare = run_bare(str(BIN / f"{name}.elf"))
            if bare.output != _expected(name):
                raise SystemExit(f"bare unicorn: {name} printed what QEMU does not")
            bares.append(bare)
            qemus.append(time_qemu(name))
        insns = run_bare(str(BIN / f"{name}.elf"), count=True).insns or 1
        last = bts[-1]
        if len({(b.python_entries, b.tlb_fills, b.shadow_faults) for b in bts}) > 1:
            notes.append(f"{name}: bt's counters differed between runs (last run shown)")
        wall = statistics.median(b.wall for b in bts)
        emu = statistics.median(b.emu for b in bts)
        bare_s = statistics.median(b.seconds for b in bares)
        qemu = statistics.median(qemus)
        print(
            f"{name:<10} {insns:>11,} {wall:7.2f} {emu:7.2f} {bare_s:8.2f} {qemu:8.2f} "
            f"{emu / bare_s:7.2f} {wall / qemu:7.1f} {bare_s / qemu:9.2f} "
            f"{(last.tlb_fills + last.shadow_faults) * 1000 / insns:8.2f} "
            f"{last.python_entries * 1000 / insns:7.2f}"
        )
        notes.append(
            f"{name}: bt {last.shadow_faults:,} shadow-table faults and {last.tlb_fills:,} "
            f"fill-hook TLB fills (fills/1k: both), {last.python_entries:,} Python entries, "
            f"{last.page_faults:,} #PF; bare {bares[-1].exceptions:,} #PF delivered in "
            f"{statistics.median(b.delivery_seconds for b in bares):.2f} s of its time"
        )
    print(
        f"median of {runs} runs; bt (s) and QEMU: whole processes; bt emu: its run loop; "
        "bt/bare: emu times; bt/QEMU: whole processes; guest insns: counted on bare Unicorn"
    )
    for note in notes:
        print(note)
