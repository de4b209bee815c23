"""Coverage in DynamoRIO's drcov format, version 2 (as Lighthouse reads it), plus hit counts.

The file written by `bt inspect FILE --drcov OUT`:

    DRCOV VERSION: 2
    DRCOV FLAVOR: bt
    Module Table: version 2, count 1
    Columns: id, base, end, entry, path
      0, 0x0000000000000000, 0x0000000000102000, 0x0000000000000000, guests/bin/kernelish.elf
    BB Table: 29 bbs
    <29 binary entries, little-endian: uint32 start; uint16 size; uint16 mod_id>

A bb entry's `start` is an offset from its module's base. The guest is one module based at 0,
so a start is the block's guest-linear address (CS base + EIP): for a kernel ELF linked where it
runs, the addresses a disassembler shows (rebase the database to 0 in Lighthouse if it is not).
`size` is the block's guest code size in bytes. The module's end is the end of the highest
block, rounded up to a page; its path is the guest image the cache was saved from.

Which blocks count as covered: a translation block is one stretch of guest code entered at
its start, which is exactly what a block-level trace (`bt run --trace-level block`) records, so
the starts written here are the guest addresses the trace says were executed, for the blocks
still in the cache when it was saved. With `--count-insns` a block is covered when its
execution count is non-zero; without it every saved block is covered (a block is translated
only when execution reaches it, so each one ran at least once). Blocks evicted or invalidated
(self-modifying code) before the save are not in the cache file, so they are not here either;
the cache file's invalidation history names them.

Beside it, OUT + ".hits.csv" is a CSV of hit counts, one line per bb entry, in the same order:

    start,size,hits,block
    0x00100010,36,1,1

`hits` is the block's execution count (entries by the monitor when executions were not
counted: a lower bound); `block` is the block's id in the cache file.
"""

from __future__ import annotations

import struct

from bt.inspector.model import Block, CacheFile
from bt.types import PAGE_SIZE

_BB = struct.Struct("<IHH")  # uint32 start; uint16 size; uint16 mod_id
FLAVOR = "bt"


def covered_blocks(cf: CacheFile) -> list[Block]:
    """The blocks that ran (see the module docstring), by address."""
    return [b for b in cf.blocks(sort="address") if b.executions is None or b.executions > 0]


def write_drcov(cf: CacheFile, out: str) -> tuple[str, int]:
    """Write the coverage of `cf` to `out` and hit counts to `out`.hits.csv; returns the hits
    file's path and the number of bb entries."""
    blocks = covered_blocks(cf)
    end = max((b.linear + b.guest_size for b in blocks), default=0)
    end = (end + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE
    path = cf.meta.get("guest", "guest").replace("\n", " ")
    head = (
        "DRCOV VERSION: 2\n"
        f"DRCOV FLAVOR: {FLAVOR}\n"
        "Module Table: version 2, count 1\n"
        "Columns: id, base, end, entry, path\n"
        f"  0, 0x{0:016x}, 0x{end:016x}, 0x{0:016x}, {path}\n"
        f"BB Table: {len(blocks)} bbs\n"
    )
    body = b"".join(_BB.pack(b.linear, min(b.guest_size, 0xFFFF), 0) for b in blocks)
    with open(out, "wb") as fh:
        fh.write(head.encode("utf-8") + body)
    hits = out + ".hits.csv"
    with open(hits, "w", encoding="ascii") as fh:
        fh.write("start,size,hits,block\n")
        for b in blocks:
            fh.write(f"0x{b.linear:08x},{b.guest_size},{b.hotness},{b.id}\n")
    return hits, len(blocks)
