"""Compares two traces and reports the first divergence (`bt trace diff A B`).

Alignment: execution records are compared in order. When both traces are at the same level,
record n of one is compared with record n of the other. When one trace records instructions
and the other blocks, the instruction trace is walked forward to the next block start of the
other (each block start is also an instruction start), past the straight-line code of the
block before (its record gives its end), so a fall-through into a loop head inside a block is
not taken for the block's start; differently sized units never cause a false divergence.
Consecutive records at one address count once (QEMU logs each REP iteration). Port I/O and
interrupt records are not compared here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

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
    the engine runs the whole instruction at once. A block cut short (a self-modifying write
    re-runs its writing instruction as a one-instruction block) keeps the shortest end."""
    started = start_at is None
    pending: TraceRecord | None = None
    for r in records:
        if r.kind != "exec":
            continue
        if not started and r.eip == start_at:
            started = True
        if not started:
            continue
        if pending is not None and r.eip == pending.eip and (r.end is None or r.cut):
            # A block entered again at the same address is a loop unless it is a cut.
            if r.end is not None and (pending.end is None or r.end < pending.end):
                pending = replace(pending, end=r.end, cut=pending.cut or r.cut)
            continue
        if pending is not None:
            yield pending
        pending = r
    if pending is not None:
        yield pending


def _rest_of_block(
    first: TraceRecord,
    rest: Iterator[TraceRecord],
    block: TraceRecord | None,
) -> bool:
    """Whether the instruction records left when the block trace has ended are the rest of
    its last block (straight-line code inside it), which the block record already covers."""
    if block is None or block.end is None:
        return False
    last = block.eip or 0
    for r in (first, *rest):
        if not last < (r.eip or 0) < block.end:
            return False
        last = r.eip or 0
    return True


def diff_traces(
    path_a: str,
    path_b: str,
    ignore: set[str] | None = None,
    start_at: int | None = None,
    context: int = 5,
    nondet: Sequence[tuple[int, int]] = (),
    stop_at: int | None = None,
) -> DiffResult:
    """Compare trace files `path_a` and `path_b`.

    `nondet` lists guest address ranges [start, end) whose results may differ by design
    (RDTSC, a timer read): records inside are compared by address only, and the values that
    differ when execution leaves such a range are taken as equal (A's value for B's) from
    then on. `stop_at`: the comparison ends (equal so far) where A first reaches that guest
    address (a guest's tail where the reference is known to differ from the SDM).
    """
    ignore = ignore or set()
    unknown = ignore - set(REGS)
    if unknown:
        raise OptionError(
            f"--ignore: unknown register {sorted(unknown)[0]!r} (one of {', '.join(REGS)})"
        )
    ha, ra = open_any_trace(path_a)
    hb, rb = open_any_trace(path_b)
    keep = [i for i, name in enumerate(REGS) if name not in ignore]
    a_iter, b_iter = _execs(ra, start_at), _execs(rb, start_at)
    a_fine = ha.level == "insn" and hb.level != "insn"
    b_fine = hb.level == "insn" and ha.level != "insn"
    history: deque[TraceRecord] = deque(maxlen=context)
    compared = 0
    index = 0
    block: TraceRecord | None = None  # the last block record matched (coarse trace)
    was_nondet = False  # the last record compared lay in a `nondet` range
    # Pairs of values that stand for the same nondeterministic result in A and in B: they
    # compare equal wherever they show up again (a register saved and restored, say).
    same: set[tuple[int, int]] = set()
    for a in a_iter:
        if stop_at is not None and a.eip == stop_at:
            return DiffResult(True, compared)
        b = next(b_iter, None)
        if b is None:
            if a_fine and _rest_of_block(a, a_iter, block):
                break
            return DiffResult(
                False, compared, a.eip, index, reason="trace B ends here", context=tuple(history)
            )
        if a_fine or b_fine:
            coarse_it = b_iter if a_fine else a_iter
            while (
                block is not None
                and (b if a_fine else a).eip == block.eip
                and (a if a_fine else b).eip != block.eip
            ):
                # A one-instruction loop: the instruction trace collapsed its repetitions.
                nxt = next(coarse_it, None)
                if nxt is None:
                    break
                if a_fine:
                    b = nxt
                else:
                    a = nxt
            # Walk the instruction trace to the block trace's next block start; while it is
            # still inside the previous block's straight-line code, an address equal to the
            # next block's is a fall-through into a loop head, not that block's start.
            fine, coarse = (a, b) if a_fine else (b, a)
            run_end = block.end if block is not None and not coarse.cut else None
            last = block.eip if block is not None else None
            for _ in range(LOOKAHEAD):
                in_run = (
                    run_end is not None and last is not None and last < (fine.eip or 0) < run_end
                )
                if not in_run:
                    run_end = None
                    if fine.eip == coarse.eip:
                        break
                last = fine.eip
                nxt = next(a_iter if a_fine else b_iter, None)
                if nxt is None:
                    break
                if a_fine:
                    history.append(fine)
                    index += 1
                    if stop_at is not None and nxt.eip == stop_at:
                        return DiffResult(True, compared)
                fine = nxt
            a, b = (fine, coarse) if a_fine else (coarse, fine)
            block = coarse
        if a.eip != b.eip:
            return DiffResult(
                False,
                compared,
                a.eip,
                index,
                reason=f"control flow: A is at 0x{a.eip or 0:08x}, B at 0x{b.eip or 0:08x}",
                context=tuple(history),
            )
        assert a.regs is not None and b.regs is not None
        if any(lo <= (a.eip or 0) < hi for lo, hi in nondet):
            was_nondet = True
            diffs: tuple[Divergence, ...] = ()
        else:
            differ = [
                i for i in keep if a.regs[i] != b.regs[i] and (a.regs[i], b.regs[i]) not in same
            ]
            if was_nondet:
                same.update((a.regs[i], b.regs[i]) for i in differ)
                was_nondet, differ = False, []
            diffs = tuple(Divergence(REGS[i], a.regs[i], b.regs[i]) for i in differ)
        if diffs:
            return DiffResult(
                False, compared, a.eip, index, diffs, "registers differ", tuple(history)
            )
        compared += 1
        history.append(a)
        index += 1
    extra = next(b_iter, None)
    if extra is not None and not (b_fine and _rest_of_block(extra, b_iter, block)):
        return DiffResult(
            False, compared, extra.eip, index, reason="trace A ends here", context=tuple(history)
        )
    return DiffResult(True, compared)


def format_diff(result: DiffResult) -> str:
    """A human-readable report."""
    if result.equal:
        return f"traces equal ({result.compared} execution records compared)\n"
    lines = [
        f"first divergence at record {result.index}, guest address "
        f"0x{result.eip or 0:08x}: {result.reason}"
    ]
    if result.regs and result.culprit is not None:
        lines.append(f"  (the result of the instruction or block at 0x{result.culprit:08x})")
    for d in result.regs:
        lines.append(f"  {d.reg:<6} A=0x{d.a:08x}  B=0x{d.b:08x}")
    if result.context:
        lines.append("before it (trace A):")
        for r in result.context:
            lines.append(f"  0x{r.eip or 0:08x}")
    return "\n".join(lines) + "\n"
