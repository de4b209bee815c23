"""Formats the engine's statistics records for `bt run --stats`."""

from __future__ import annotations

from bt.machine import Machine
from bt.runresult import RunResult, vector_name


def format_stats(machine: Machine, result: RunResult) -> str:
    """A human-readable block of the cache and run-loop statistics."""
    c = machine.cache.stats()
    r = machine.runloop.stats()
    fast = machine.portfast
    lines = [
        f"run: {result.kind} (status {result.status}) at 0x{result.eip:08x}: {result.message}",
        f"time: {r.wall_seconds:.3f} s",
        f"blocks: {c.blocks} live, {c.translations} translated, {c.reused} from --cache-dir, "
        f"{c.code_bytes} code bytes of {c.capacity}",
        f"lookups: {c.lookups}, hits {c.hits}",
        f"chaining: {'on' if machine.cache.chaining else 'off'}, {c.chains} exits chained",
        f"invalidations: {c.invalidations} (self-modifying writes: {r.smc_faults}), "
        f"flushes {c.flushes}, code pages {c.code_pages}",
        f"python entries: {r.python_entries} (callouts {r.callouts}, unchained exits "
        f"{r.slot_exits}, emu_start {r.emu_starts}, TLB fills {r.tlb_fills}, "
        f"shadow-table faults {r.shadow_faults})",
        f"backstop: {r.backstops} stops after {r.backstop_budget} blocks ({r.backstop_mode})",
        _shadow_line(machine),
        f"port I/O answered without Python: {fast.answered} ({machine.engine.native_io.mode}, "
        f"fast path {'on' if fast.enabled else 'off'})",
    ]
    if r.guest_insns is not None:
        per = r.python_entries * 10000 / max(r.guest_insns, 1)
        lines.append(f"guest instructions: {r.guest_insns} ({per:.3f} Python entries per 10,000)")
    else:
        lines.append("guest instructions: not counted (add --count-insns)")
    if c.callouts:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(c.callouts.items(), key=lambda kv: -kv[1]))
        lines.append(f"callouts by kind: {kinds}")
    post = machine.postcode.stat_line()
    if post is not None:
        lines.append(post)
    read, written = machine.ide.sectors_moved()
    if read or written:
        lines.append(f"IDE sectors: {read} read, {written} written (the controllers' PIO)")
    if r.interrupts:
        vecs = ", ".join(f"{vector_name(v)}: {n}" for v, n in sorted(r.interrupts.items()))
        lines.append(f"interrupts and exceptions delivered: {vecs}")
    return "".join(f"stats: {line}\n" for line in lines)


def _shadow_line(machine: Machine) -> str:
    """Guest paging's shadow tables (bt/shadowpaging.py): what they did during the run."""
    shadow = machine.engine.shadow
    if shadow is None:
        return "shadow tables: none"
    st = shadow.statistics()
    return (
        f"shadow tables: {st['shadow_fills']} fills, {st['shadow_unsyncs']} tables unsynced, "
        f"{st['shadow_resets']} resets; {st['shadow_roots']} address spaces and "
        f"{st['shadow_tables']} guest tables followed at the end"
    )
