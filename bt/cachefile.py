"""Cache files: the translation cache saved as SQLite for the inspector (format version 1).

One file, readable without running the guest. Tables:

    meta(key, value)            format = "bt-cache", version = "1", guest, saved_at_insns,
                                chaining, and the cache and run-loop statistics as JSON
    blocks(id, eip, cs_base, mode, max_insns, code_addr, code_size, guest_bytes, code,
           valid, entries, executions, callouts)
                                one row per translation block still live at save time;
                                `entries` counts starts by the monitor, `executions` counts
                                every execution (NULL unless instructions were counted)
    insns(block_id, idx, eip, bytes, text, rule, kind, reason, tc_offset, tc_size)
                                each guest instruction of a block, the rule applied to it
                                (copy, callout, callout-exit, branch, indirect) with the reason
                                from translator/sensitive.py, and where its translation lies
                                inside the block's code (code[tc_offset : tc_offset + tc_size])
    links(block_id, slot, slot_addr, target_eip, edge, dst_block, taken)
                                exit slots: where each leads, the block it is chained to (NULL
                                when unchained), how often execution left through it unchained
    callouts(block_id, kind, count)
                                callouts made from each block, by kind
    invalidations(seq, reason, page, eip, code_addr)
                                the last invalidations (which write, which page, which block)
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass

from bt.cache.cache import TranslationCache

FORMAT = "bt-cache"
VERSION = 1

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE blocks(id INTEGER PRIMARY KEY, eip INTEGER NOT NULL, cs_base INTEGER NOT NULL,
    mode TEXT NOT NULL, max_insns INTEGER NOT NULL, code_addr INTEGER NOT NULL,
    code_size INTEGER NOT NULL, guest_bytes BLOB NOT NULL, code BLOB NOT NULL,
    valid INTEGER NOT NULL, entries INTEGER NOT NULL, executions INTEGER,
    callouts INTEGER NOT NULL);
CREATE TABLE insns(block_id INTEGER NOT NULL REFERENCES blocks(id), idx INTEGER NOT NULL,
    eip INTEGER NOT NULL, bytes BLOB NOT NULL, text TEXT NOT NULL, rule TEXT NOT NULL,
    kind TEXT NOT NULL, reason TEXT NOT NULL, tc_offset INTEGER NOT NULL,
    tc_size INTEGER NOT NULL, PRIMARY KEY(block_id, idx));
CREATE TABLE links(block_id INTEGER NOT NULL REFERENCES blocks(id), slot INTEGER NOT NULL,
    slot_addr INTEGER NOT NULL, target_eip INTEGER, edge TEXT NOT NULL, dst_block INTEGER,
    taken INTEGER NOT NULL, PRIMARY KEY(block_id, slot));
CREATE TABLE callouts(block_id INTEGER NOT NULL REFERENCES blocks(id), kind TEXT NOT NULL,
    count INTEGER NOT NULL, PRIMARY KEY(block_id, kind));
CREATE TABLE invalidations(seq INTEGER PRIMARY KEY, reason TEXT NOT NULL, page INTEGER,
    eip INTEGER NOT NULL, code_addr INTEGER NOT NULL);
CREATE INDEX insns_eip ON insns(eip);
CREATE INDEX blocks_eip ON blocks(eip);
"""


def _jsonable(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def save_cache(
    path: str,
    cache: TranslationCache,
    read_code: object,
    meta: Mapping[str, object],
    executions: Mapping[int, int] | None = None,
) -> None:
    """Write the live blocks of `cache` to a new SQLite file at `path` (atomically).

    `read_code(addr, size) -> bytes` reads translated code; `executions` maps a block's code
    address to how often it ran, when that was counted.
    """
    tmp = f"{path}.tmp{os.getpid()}"
    if os.path.exists(tmp):
        os.unlink(tmp)
    db = sqlite3.connect(tmp)
    try:
        db.executescript(_SCHEMA)
        rows = {"format": FORMAT, "version": str(VERSION), "chaining": str(cache.chaining)}
        rows.update(
            {k: json.dumps(_jsonable(v)) if not isinstance(v, str) else v for k, v in meta.items()}
        )
        rows["cache_stats"] = json.dumps(asdict(cache.stats()))
        db.executemany("INSERT INTO meta VALUES (?, ?)", sorted(rows.items()))
        blocks = cache.blocks()
        ids = {id(tb): n for n, tb in enumerate(blocks, start=1)}
        reader = read_code if callable(read_code) else None
        for tb in blocks:
            bid = ids[id(tb)]
            code = reader(tb.code_addr, tb.size) if reader is not None else b""
            total_callouts = sum(tb.callout_counts.values())
            db.execute(
                "INSERT INTO blocks VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    bid,
                    tb.key.eip,
                    tb.key.cs_base,
                    tb.key.label,
                    tb.key.max_insns,
                    tb.code_addr,
                    tb.size,
                    tb.guest_bytes,
                    code,
                    int(tb.valid),
                    tb.entries,
                    None if executions is None else executions.get(tb.code_addr, 0),
                    total_callouts,
                ),
            )
            offsets = [r.offset for r in tb.insns] + [tb.size]
            for idx, rec in enumerate(tb.insns):
                end = offsets[idx + 1]
                if idx + 1 == len(tb.insns):
                    # The last instruction's translation runs up to the first exit slot.
                    slots = [
                        s.address - tb.code_addr
                        for s in tb.exits
                        if s.address - tb.code_addr >= rec.offset
                    ]
                    end = max(min(slots, default=tb.size), rec.offset)
                # A self-checking block's check (translator/selfcheck.py) is shown as the
                # start of its first instruction's translation.
                start = 0 if idx == 0 else rec.offset
                db.execute(
                    "INSERT INTO insns VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        bid,
                        idx,
                        rec.insn.eip,
                        rec.insn.guest_bytes,
                        rec.insn.text(),
                        rec.sensitivity.rule.value,
                        rec.sensitivity.kind,
                        rec.sensitivity.reason,
                        start,
                        end - start,
                    ),
                )
            for no, slot in enumerate(tb.exits):
                dst = ids.get(id(slot.linked)) if slot.linked is not None else None
                db.execute(
                    "INSERT INTO links VALUES (?,?,?,?,?,?,?)",
                    (bid, no, slot.address, slot.target, slot.edge, dst, slot.taken),
                )
            for kind, count in sorted(tb.callout_counts.items()):
                db.execute("INSERT INTO callouts VALUES (?,?,?)", (bid, kind, count))
        for seq, inv in enumerate(cache.history):
            db.execute(
                "INSERT INTO invalidations VALUES (?,?,?,?,?)",
                (seq, inv.reason, inv.page, inv.eip, inv.code_addr),
            )
        db.commit()
    finally:
        db.close()
    os.replace(tmp, path)
