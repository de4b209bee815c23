"""Traces: recording (block and instruction level), the file format, and `bt trace diff`."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from pathlib import Path

import keystone
import pytest
from limits import HANG_GUARD

from bt.callouts import table
from bt.callouts.context import CalloutContext
from bt.exits import VcpuExit
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig
from bt.tracediff import diff_traces
from bt.tracefile import REGS, TraceFileError, TraceWriter, open_trace
from bt.translator.insn import GuestInsn, RegOp

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"


def bt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bt.cli", *args],
        cwd=BIN,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT)},
    )


def test_round_trip_and_gzip(tmp_path: Path) -> None:
    for name in ("t.trace", "t.trace.gz"):
        path = str(tmp_path / name)
        with TraceWriter(path, "insn", "bt", "g.elf") as w:
            w.exec(0x100000, list(range(len(REGS))))
            w.io_out(0x3F8, 1, 65)
            w.io_in(0x3FD, 1, 0x60)
            w.interrupt(13, 0, 0x100004)
        header, records = open_trace(path)
        assert header.level == "insn" and header.regs == REGS
        got = list(records)
        assert [r.kind for r in got] == ["exec", "out", "in", "int"]
        assert got[0].regs == tuple(range(len(REGS))) and got[1].value == 65
        assert got[3].vector == 13 and got[3].error_code == 0


def test_streaming_needs_constant_memory(tmp_path: Path) -> None:
    path = str(tmp_path / "big.trace.gz")
    values = list(range(len(REGS)))
    tracemalloc.start()
    # 60,000 records: keeping as little as 70 bytes of each would pass the 4 MB bound.
    with TraceWriter(path, "insn", "bt", "g") as w:
        for i in range(60_000):
            w.exec(i, values)
    _, records = open_trace(path)
    count = sum(1 for _ in records)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 60_000
    assert peak < 4 << 20  # a few MB however long the trace


def test_engine_traces_agree_across_chaining_and_levels(tmp_path: Path) -> None:
    a, b, c = (str(tmp_path / n) for n in ("a.gz", "b.gz", "c.gz"))
    assert bt("run", "segments.elf", "--serial", "none", "--trace", a).returncode == 1
    assert bt("run", "segments.elf", "--serial", "none", "--no-chain", "--trace", b).returncode == 1
    assert (
        bt(
            "run", "segments.elf", "--serial", "none", "--trace", c, "--trace-level", "insn"
        ).returncode
        == 1
    )
    assert diff_traces(a, b).equal
    assert diff_traces(c, a).equal
    header, records = open_trace(a)
    assert header.level == "block"
    kinds = {r.kind for r in records}
    assert {"exec", "out", "in"} <= kinds
    # Only guest-visible state: no translation-cache address appears anywhere.
    _, records = open_trace(c)
    for r in records:
        if r.kind == "exec":
            assert r.eip is not None and r.eip < 0xE0000000
            assert r.regs is not None and r.regs[REGS.index("cs")] in (0x08, 0x30)


def _trace_of(code: bytes, path: Path, trace: str) -> None:
    path.write_bytes(code)
    image = load_guest(str(path), 16 << 20, "", 0x100000, None)
    m = Machine(
        MachineConfig(16 << 20, trace_path=trace, trace_level="insn"), image, lambda _b: None
    )
    assert m.run(max_insns=1_000_000).kind == "exit-port"


def test_changed_rule_is_found_by_diff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    text = "mov ecx, 5; l: inc ebx; loop l; mov eax, cr0; add ebx, eax; mov al, 0; out 0xf4, al"
    code = bytes(ks.asm(text, 0x100000)[0])
    good, bad = str(tmp_path / "good.gz"), str(tmp_path / "bad.gz")
    _trace_of(code, tmp_path / "g.bin", good)

    def broken_mov_from_cr(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
        op = insn.operands[0]
        assert isinstance(op, RegOp)
        ctx.set_reg(op.name, ctx.vcpu.cr0 & 0xFFFF | 0x12340000)  # a wrong translation
        return None

    monkeypatch.setitem(table.HANDLERS, "mov_from_cr", broken_mov_from_cr)
    _trace_of(code, tmp_path / "g.bin", bad)
    result = diff_traces(good, bad)
    assert not result.equal
    mov_at = 0x100000 + len(ks.asm("mov ecx, 5; l: inc ebx; loop l", 0x100000)[0])
    assert result.culprit == mov_at
    assert [d.reg for d in result.regs] == ["eax"]
    assert (result.regs[0].a, result.regs[0].b) == (0x11, 0x12340011)
    assert diff_traces(good, bad, ignore={"eax", "ebx", "eflags"}).equal


def test_bad_input(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_text("hello\n")
    with pytest.raises(TraceFileError):
        open_trace(str(junk))
    for args in (
        ["trace", "diff", str(junk), str(junk)],
        ["trace", "diff", "/nonexistent", str(junk)],
    ):
        proc = bt(*args)
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    good = str(tmp_path / "g.trace")
    with TraceWriter(good, "block", "bt", "g"):
        pass
    proc = bt("trace", "diff", good, good, "--ignore", "xyz")
    assert proc.returncode == 2 and "xyz" in proc.stderr
    proc = bt("trace", "diff", good, good)
    assert proc.returncode == 0
    proc = bt("trace", "diff", good, good, "--nondet", "0x20-0x10")
    assert proc.returncode == 2 and "--nondet" in proc.stderr


def _regs(**kw: int) -> list[int]:
    return [kw.get(name, 0) for name in REGS]


def test_block_trace_aligns_past_a_loop_head_inside_the_block(tmp_path: Path) -> None:
    # Block 0x10..0x20 falls through 0x18 (a loop head) and later jumps back to it.
    fine, coarse = str(tmp_path / "i.trace"), str(tmp_path / "b.trace")
    with TraceWriter(fine, "insn", "bt", "g") as w:
        for eip, ecx in ((0x10, 0), (0x14, 0), (0x18, 0), (0x1C, 1), (0x18, 1), (0x1C, 2)):
            w.exec(eip, _regs(ecx=ecx))
    with TraceWriter(coarse, "block", "bt", "g") as w:
        w.exec(0x10, _regs(ecx=0), end=0x20)
        w.exec(0x18, _regs(ecx=1), end=0x20)
    assert diff_traces(fine, coarse).equal
    # The same entry recorded as a cut (the monitor resumed there) matches the fall-through.
    with TraceWriter(coarse, "block", "bt", "g") as w:
        w.exec(0x10, _regs(ecx=0), end=0x20)
        w.exec(0x18, _regs(ecx=0), end=0x20, cut=True)
        w.exec(0x18, _regs(ecx=1), end=0x20)
    assert diff_traces(fine, coarse).equal
    # A loop-back the block trace lacks is a divergence.
    with TraceWriter(coarse, "block", "bt", "g") as w:
        w.exec(0x10, _regs(ecx=0), end=0x20)
    assert not diff_traces(fine, coarse).equal


def test_nondet_range_values_count_as_equal_afterwards(tmp_path: Path) -> None:
    a, b = str(tmp_path / "a.trace"), str(tmp_path / "b.trace")
    for path, tsc in ((a, 0x1111), (b, 0x2222)):
        with TraceWriter(path, "insn", "bt", "g") as w:
            w.exec(0x10, _regs())  # rdtsc
            w.exec(0x12, _regs(eax=tsc))  # push eax / other work
            w.exec(0x20, _regs(ebx=tsc))  # the value again, in another register
            w.exec(0x24, _regs(ebx=tsc, ecx=5))
    assert not diff_traces(a, b).equal
    result = diff_traces(a, b, nondet=[(0x10, 0x12)])
    assert result.equal and result.compared == 4
    # A difference that is not the nondeterministic value is still reported.
    with TraceWriter(b, "insn", "bt", "g") as w:
        w.exec(0x10, _regs())
        w.exec(0x12, _regs(eax=0x2222))
        w.exec(0x20, _regs(ebx=0x2222, edx=1))
    result = diff_traces(a, b, nondet=[(0x10, 0x12)])
    assert not result.equal and [d.reg for d in result.regs] == ["edx"]
