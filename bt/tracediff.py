"""Compares two traces and reports the first divergence (`bt trace diff A B`).

Alignment: execution records are compared in order. When both traces are at the same level,
record n of one is compared with record n of the other. When one trace records instructions
and the other blocks, the instruction trace is walked forward to the next block start of the
other (each block start is also an instruction start), so differently sized units never
cause a false divergence. Consecutive records at one address count once (QEMU logs each REP
iteration). Port I/O and interrupt records are not compared here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from bt.errors import OptionError
from bt.qemulog import open_any_trace
from bt.tracefile import REGS, TraceRecord

LOOKAHEAD = 100_000  # instruction records searched for the other trace's next block start


@dataclass(frozen=True, slots=True)
class Divergence:
    """One differing register at the first divergence."""

    reg: str
    a: int
    b: int


@dataclass(frozen=True, slots=True)
class DiffResult:
    """The outcome: equal, or where and how the traces first differ."""

    equal: bool
    compared: int  # execution records compared
    eip: int | None = None
    index: int | None = None  # position of the divergent record in trace A
    regs: tuple[Divergence, ...] = ()
    reason: str = ""
    context: tuple[TraceRecord, ...] = ()

    @property
    def culprit(self) -> int | None:
        """The record before the divergence: at instruction level, the instruction whose
        result differs."""
        return self.context[-1].eip if self.context else None


def _execs(records: Iterator[TraceRecord], start_at: int | None) -> Iterator[TraceRecord]:
    """Execution records from `start_at` on, each run of records at one address collapsed to
    its first: QEMU logs every iteration of a REP string instruction as its own block, while
    the engine runs the whole instruction at once."""
    started = start_at is None
    last: int | None = None
    for r in records:
        if r.kind != "exec":
            continue
        if not started and r.eip == start_at:
            started = True
        if started and r.eip != last:
            yield r
        last = r.eip


def diff_traces(
    path_a: str, path_b: str, ignore: set[str] | None = None, start_at: int | None = None,
    context: int = 5,
) -> DiffResult:
    """Compare trace files `path_a` and `path_b`."""
    ignore = ignore or set()
    unknown = ignore - set(REGS)
    if unknown:
        raise OptionError(f"--ignore: unknown register {sorted(unknown)[0]!r} "
                          f"(one of {', '.join(REGS)})")
    ha, ra = open_any_trace(path_a)
    hb, rb = open_any_trace(path_b)
    keep = [i for i, name in enumerate(REGS) if name not in ignore]
    a_iter, b_iter = _execs(ra, start_at), _execs(rb, start_at)
    a_fine = ha.level == "insn" and hb.level != "insn"
    b_fine = hb.level == "insn" and ha.level != "insn"
    history: deque[TraceRecord] = deque(maxlen=context)
    compared = 0
    index = 0
    for a in a_iter:
        b = next(b_iter, None)
        if b is None:
            return DiffResult(False, compared, a.eip, index, reason="trace B ends here",
                              context=tuple(history))
        if a.eip != b.eip and (a_fine or b_fine):
            # Walk the instruction trace to the block trace's next block start.
            for _ in range(LOOKAHEAD):
                if a.eip == b.eip:
                    break
                if a_fine:
                    nxt = next(a_iter, None)
                    if nxt is None:
                        break
                    history.append(a)
                    a, index = nxt, index + 1
                else:
                    nxt = next(b_iter, None)
                    if nxt is None:
                        break
                    b = nxt
        if a.eip != b.eip:
            return DiffResult(False, compared, a.eip, index,
                              reason=f"control flow: A is at 0x{a.eip or 0:08x}, "
                                     f"B at 0x{b.eip or 0:08x}", context=tuple(history))
        assert a.regs is not None and b.regs is not None
        diffs = tuple(Divergence(REGS[i], a.regs[i], b.regs[i]) for i in keep
                      if a.regs[i] != b.regs[i])
        if diffs:
            return DiffResult(False, compared, a.eip, index, diffs, "registers differ",
                              tuple(history))
        compared += 1
        history.append(a)
        index += 1
    extra = next(b_iter, None)
    if extra is not None:
        return DiffResult(False, compared, extra.eip, index, reason="trace A ends here",
                          context=tuple(history))
    return DiffResult(True, compared)


def format_diff(result: DiffResult) -> str:
    """A human-readable report."""
    if result.equal:
        return f"traces equal ({result.compared} execution records compared)\n"
    lines = [f"first divergence at record {result.index}, guest address "
             f"0x{result.eip or 0:08x}: {result.reason}"]
    if result.regs and result.culprit is not None:
        lines.append(f"  (the result of the instruction or block at 0x{result.culprit:08x})")
    for d in result.regs:
        lines.append(f"  {d.reg:<6} A=0x{d.a:08x}  B=0x{d.b:08x}")
    if result.context:
        lines.append("before it (trace A):")
        for r in result.context:
            lines.append(f"  0x{r.eip or 0:08x}")
    return "\n".join(lines) + "\n"
