"""Benchmark: each guest under the engine, under bare Unicorn and under QEMU, side by side.

    python tools/bench.py [--runs N] [GUEST ...]        # e.g. python tools/bench.py pagebench
    python tools/bench.py --startup [--runs N]

Prints, per guest, the median wall time of N runs of the guest's execution (machine set-up and
loading excluded for the engine and bare Unicorn; QEMU's time is its whole process, firmware
included), the ratio engine / bare Unicorn, blocks translated per second, and entries into
Python per 1000 guest instructions (instructions counted once by an instrumented bare run).

The serial guests (serialout, serialpoll: 4 MiB to COM1, blindly or polling LSR) get a table
of their own: bytes per second under the engine, with the native port fast path and with
every access a callout (a 256 KiB run, the fast path disabled), and under QEMU (-serial null).
The real-mode guests (rmbench, rmbench7c: boot sectors) get a table of their own
(tools/bench_real.py): bt, bare Unicorn in its 16-bit mode, QEMU booting them from a floppy.
The paging guest (pagebench: MOV CR3 between four address spaces, demand and copy-on-write
faults) gets a table of its own (tools/bench_paging.py): bt's whole process and run-loop time,
bare Unicorn walking the guest's page tables itself (the limit) and QEMU, with bt's TLB fills
and Python entries per 1000 guest instructions.
--startup measures what `bt run` costs before the guest runs: the CPU time (user + system) of
whole `bt run` processes on a kernel of three instructions that exits at once, beside the
Python interpreter doing nothing and QEMU booting its firmware and the same kernel.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from bare_unicorn import run_bare  # noqa: E402
from bench_paging import PAGING, paging_table  # noqa: E402
from bench_real import REAL, real_table  # noqa: E402

from bt.cli import tune_gc  # noqa: E402
from bt.loader import load_guest  # noqa: E402
from bt.machine import Machine, MachineConfig  # noqa: E402

BIN = ROOT / "guests" / "bin"
GUESTS = {
    "compute": "compute-bound: sieve, CRC32, sort, matmul, calls",
    "kernelish": "kernel-style: PUSHF/CLI/POPF, MOV from CS/SS, SGDT, SMSW, far RET",
    "translate": "translation-heavy: 20,000 blocks run once",
}
SERIAL = {
    "serialout": "4 MiB to COM1's THR without polling",
    "serialpoll": "4 MiB to COM1's THR, polling LSR before each byte",
}
SERIAL_BYTES = 4 << 20
CALLOUT_BYTES = 256 << 10  # the callout path is too slow for 4 MiB in every run
MEM = 128 << 20


@dataclass(frozen=True, slots=True)
class EngineRun:
    """One engine run's wall time and counters."""

    seconds: float
    translations: int
    translate_seconds: float
    python_entries: int
    output: bytes


def run_engine(name: str) -> EngineRun:
    """Run one guest under the engine, timing only its execution."""
    image = load_guest(str(BIN / f"{name}.elf"), MEM)
    out = bytearray()
    machine = Machine(MachineConfig(MEM), image, out.extend)
    scanner = machine.scanner
    # Time spent translating, measured around the scanner and rewriter.
    spent = [0.0]
    orig_translate = machine.maker.translate

    def timed(key: object, watch: bool) -> object:
        t = time.perf_counter()
        try:
            return orig_translate(key, watch)  # type: ignore[arg-type]
        finally:
            spent[0] += time.perf_counter() - t

    machine.maker.translate = timed  # type: ignore[method-assign,assignment]
    start = time.perf_counter()
    machine.run(timeout=600)
    seconds = time.perf_counter() - start
    del scanner
    return EngineRun(
        seconds,
        machine.cache.stats().translations,
        spent[0],
        machine.runloop.stats().python_entries,
        bytes(out),
    )


@dataclass(frozen=True, slots=True)
class SerialRun:
    """One serial benchmark run: wall time of the guest's execution and its counters."""

    seconds: float
    nbytes: int
    answered: int
    python_entries: int


def run_serial(name: str, nbytes: int, fast: bool) -> SerialRun:
    """Run a serial guest printing `nbytes`, with the native fast path or without it."""
    image = load_guest(str(BIN / f"{name}.elf"), MEM, str(nbytes))
    out = bytearray()
    machine = Machine(MachineConfig(MEM), image, out.extend)
    if not fast:
        machine.portfast.disable()
    start = time.perf_counter()
    machine.run(timeout=600)
    seconds = time.perf_counter() - start
    if len(out) != nbytes:
        raise SystemExit(f"{name}: printed {len(out)} bytes, not {nbytes}")
    return SerialRun(
        seconds, nbytes, machine.portfast.answered, machine.runloop.stats().python_entries
    )


def serial_table(names: list[str], runs: int) -> None:
    """The serial benchmarks' table."""
    head = (
        f"{'guest':<11} {'bytes':>10} {'bt (s)':>8} {'bt MB/s':>8} {'callouts MB/s':>13} "
        f"{'QEMU (s)':>9} {'QEMU MB/s':>9} {'native':>9} {'py entries':>10}"
    )
    print(head)
    print("-" * len(head))
    for name in names:
        fast = [run_serial(name, SERIAL_BYTES, True) for _ in range(runs)]
        slow = [run_serial(name, CALLOUT_BYTES, False) for _ in range(runs)]
        eng = statistics.median(r.seconds for r in fast)
        slow_rate = CALLOUT_BYTES / statistics.median(r.seconds for r in slow) / 1e6
        qemu_times = [run_qemu(name, serial="null") for _ in range(runs)]
        qemu = (
            statistics.median(q for q in qemu_times if q is not None)
            if all(q is not None for q in qemu_times)
            else None
        )
        q = f"{qemu:9.3f} {SERIAL_BYTES / qemu / 1e6:9.2f}" if qemu else f"{'-':>9} {'-':>9}"
        last = fast[-1]
        print(
            f"{name:<11} {SERIAL_BYTES:>10,} {eng:8.3f} {SERIAL_BYTES / eng / 1e6:8.2f} "
            f"{slow_rate:13.3f} {q} {last.answered:>9,} {last.python_entries:>10,}"
        )
    print(
        f"median of {runs} runs; MB = 10^6 bytes; callouts: {CALLOUT_BYTES // 1024} KiB with "
        "the fast path off; QEMU: whole process; native: accesses answered without Python"
    )


def run_qemu(name: str, serial: str = "null") -> float | None:
    """Wall time of a whole QEMU process on the guest (None when QEMU is absent)."""
    qemu = shutil.which("qemu-system-i386")
    if qemu is None:
        return None
    start = time.perf_counter()
    subprocess.run(
        [
            qemu,
            "-kernel",
            f"{name}.elf",
            "-display",
            "none",
            "-serial",
            serial,
            "-m",
            "128",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=4",
            "-no-reboot",
        ],
        cwd=BIN,
        capture_output=True,
        timeout=600,
        check=False,
    )
    return time.perf_counter() - start


def tiny_kernel() -> bytes:
    """A Multiboot kernel by the header's addresses (flag 16): `mov al, 0; out 0xf4, al` at
    0x100020, so bt and QEMU load and run the same three instructions and stop."""
    load, magic, flags = 0x100000, 0x1BADB002, 0x00010000
    header = struct.pack(
        "<8I", magic, flags, -(magic + flags) & 0xFFFFFFFF, load, load, 0, 0, load + 0x20
    )
    return header + bytes(0x20 - len(header)) + bytes((0xB0, 0x00, 0xE6, 0xF4, 0xF4))


def _cpu_seconds(cmd: list[str], cwd: str) -> float:
    """User + system CPU time of one child process running `cmd`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def startup(runs: int) -> None:
    """Print the start-up cost of `bt run` (median and best of `runs` processes)."""
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "tiny.elf").write_bytes(tiny_kernel())
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("bt run tiny.elf", [sys.executable, "-m", "bt", "run", "tiny.elf"]),
        ]
        qemu = shutil.which("qemu-system-i386")
        if qemu is not None:
            cases.append(
                (
                    "qemu -kernel tiny.elf",
                    [
                        qemu,
                        "-kernel",
                        "tiny.elf",
                        "-display",
                        "none",
                        "-serial",
                        "null",
                        "-m",
                        "128",
                        "-device",
                        "isa-debug-exit,iobase=0xf4,iosize=4",
                        "-no-reboot",
                    ],
                )
            )
        print(f"{'process':<22} {'CPU median (s)':>15} {'CPU best (s)':>13}")
        for name, cmd in cases:
            times = [_cpu_seconds(cmd, tmp) for _ in range(runs)]
            print(f"{name:<22} {statistics.median(times):15.3f} {min(times):13.3f}")
        print(f"{runs} runs each; user + system CPU time of the whole process")


def main() -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--startup", action="store_true", help="measure bt run's start-up only")
    ap.add_argument("guests", nargs="*", default=[*GUESTS, *SERIAL, *PAGING, *REAL])
    args = ap.parse_args()
    if args.startup:
        startup(args.runs)
        return 0
    tune_gc()  # as `bt run` does
    known = [*GUESTS, *SERIAL, *PAGING, *REAL]
    unknown = [g for g in args.guests if g not in known]
    if unknown:
        ap.error(f"unknown guest {unknown[0]!r} (benchmarks: {', '.join(known)})")
    rows = []
    for name in (g for g in args.guests if g in GUESTS):
        insns = run_bare(str(BIN / f"{name}.elf"), count=True).insns or 0
        bare = statistics.median(
            run_bare(str(BIN / f"{name}.elf")).seconds for _ in range(args.runs)
        )
        runs = [run_engine(name) for _ in range(args.runs)]
        eng = statistics.median(r.seconds for r in runs)
        last = runs[-1]
        qemu_times = [run_qemu(name) for _ in range(args.runs)]
        qemu = (
            statistics.median(q for q in qemu_times if q is not None)
            if all(q is not None for q in qemu_times)
            else None
        )
        rate = last.translations / last.translate_seconds if last.translate_seconds else 0.0
        per_k = last.python_entries * 1000 / max(insns, 1)
        rows.append((name, insns, bare, eng, eng / bare, qemu, rate, per_k))
    head = (
        f"{'guest':<10} {'guest insns':>12} {'bare (s)':>9} {'bt (s)':>9} {'bt/bare':>8} "
        f"{'QEMU (s)':>9} {'blocks/s':>9} {'py/1k insn':>10}"
    )
    if rows:
        print(head)
        print("-" * len(head))
    for name, insns, bare, eng, ratio, qemu, rate, per_k in rows:
        q = f"{qemu:9.3f}" if qemu is not None else f"{'-':>9}"
        print(
            f"{name:<10} {insns:>12,} {bare:9.3f} {eng:9.3f} {ratio:8.2f} {q} {rate:9.0f} "
            f"{per_k:10.4f}"
        )
    if rows:
        print(f"median of {args.runs} runs; QEMU times are whole processes (firmware included)")
    serial = [g for g in args.guests if g in SERIAL]
    if serial:
        if rows:
            print()
        serial_table(serial, args.runs)
    paging = [g for g in args.guests if g in PAGING]
    if paging:
        if rows or serial:
            print()
        paging_table(paging, args.runs)
    real = [g for g in args.guests if g in REAL]
    if real:
        if rows or serial or paging:
            print()
        real_table(real, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
