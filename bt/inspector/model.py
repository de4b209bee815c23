"""CacheFile: the scripting API over a saved translation cache (read-only, see bt/cachefile.py).

    >>> from bt.inspector import open_cache
    >>> with open_cache("k.sqlite") as cf:
    ...     hot = cf.blocks(sort="hotness")[0]
    ...     for insn in cf.insns(hot.id):
    ...         print(insn.text, "->", [t.text for t in insn.translated], insn.reason)

A block's `hotness` is how often it ran: its execution count when the run counted instructions
(`bt run --count-insns`), otherwise how often the monitor entered it (a lower bound: chained
entries are not seen). Addresses are guest EIPs (offsets in CS; `linear` adds the CS base);
`code_addr` is where the translation lives in the translation cache.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from bt.cachefile import FORMAT, VERSION
from bt.errors import BadInput
from bt.inspector import cachestats
from bt.inspector.disasm import disassemble
from bt.inspector.records import (
    Block,
    ExitCode,
    Insn,
    Invalidation,
    Link,
    Summary,
    block_from_row,
    link_from_row,
)
from bt.translator.records import SLOT_SIZE

__all__ = [
    "RULES",
    "SORT_KEYS",
    "Block",
    "CacheFile",
    "CacheFileError",
    "ExitCode",
    "Insn",
    "Invalidation",
    "Link",
    "SortKey",
    "Summary",
    "open_cache",
    "parse_address",
]

SortKey = Literal["address", "hotness", "size", "callouts"]
SORT_KEYS: tuple[SortKey, ...] = ("address", "hotness", "size", "callouts")

# The columns link_from_row reads.
_LINKS = "SELECT block_id, slot, slot_addr, target_eip, edge, dst_block, taken FROM links"

RULES = ("copy", "inline", "callout", "callout-exit", "branch", "indirect")
"""The rules of translator/sensitive.py as cache files spell them."""


class CacheFileError(BadInput):
    """A cache file is missing, unreadable, not SQLite, or not a bt-cache of this version."""


def parse_address(text: str) -> int | None:
    """A guest address typed by a person: hex with or without 0x; None if it is not one."""
    t = text.strip().lower().removeprefix("0x")
    if not t or len(t) > 8 or any(c not in "0123456789abcdef" for c in t):
        return None
    return int(t, 16)


class CacheFile:
    """A bt-cache file opened read-only; every query reads the file, nothing runs the guest."""

    def __init__(self, path: str) -> None:
        self.path = path
        if not os.path.exists(path):
            raise CacheFileError(f"{path}: no such file")
        if not os.path.isfile(path):
            raise CacheFileError(f"{path}: not a file")
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        try:
            self._db = sqlite3.connect(uri, uri=True)
        except sqlite3.Error as exc:
            raise CacheFileError(f"{path}: cannot open: {exc}") from None
        try:
            self.meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            self._db.close()
            what = "not a bt-cache file" if "no such table" in str(exc) else "not an SQLite file"
            raise CacheFileError(f"{path}: {what} ({exc})") from None
        if self.meta.get("format") != FORMAT:
            self._db.close()
            fmt = self.meta.get("format")
            raise CacheFileError(f"{path}: not a bt-cache file (format {fmt!r})")
        if self.meta.get("version") != str(VERSION):
            self._db.close()
            raise CacheFileError(
                f"{path}: bt-cache version {self.meta.get('version')} "
                f"(this bt reads version {VERSION})"
            )
        self._blocks: dict[int, Block] | None = None
        self._insns: dict[int, tuple[Insn, ...]] = {}
        self._by_eip: dict[int, list[Block]] | None = None

    # -- lifetime ---
    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> CacheFile:
        return self

    def __exit__(
        self,
        typ: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _query(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise CacheFileError(f"{self.path}: damaged bt-cache file ({exc})") from None

    def _json_meta(self, key: str) -> dict[str, object]:
        try:
            value = json.loads(self.meta.get(key, "{}"))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    # -- blocks ---
    def _all(self) -> dict[int, Block]:
        if self._blocks is None:
            rows = self._query(
                "SELECT b.id, b.eip, b.cs_base, b.mode, b.max_insns, b.code_addr, b.code_size,"
                " length(b.guest_bytes), (SELECT count(*) FROM insns i WHERE i.block_id = b.id),"
                " b.valid, b.entries, b.executions, b.callouts,"
                " (SELECT count(*) FROM links l WHERE l.block_id = b.id),"
                " (SELECT count(*) FROM links l WHERE l.block_id = b.id"
                "  AND l.dst_block IS NOT NULL)"
                " FROM blocks b ORDER BY b.id"
            )
            self._blocks = {int(r[0]): block_from_row(r) for r in rows}
        return self._blocks

    def blocks(self, sort: SortKey = "address", descending: bool | None = None) -> list[Block]:
        """Every block, sorted by guest address (ascending by default) or by hotness, size in
        the cache or callouts made (descending by default); ties go by address."""
        if sort not in SORT_KEYS:
            raise ValueError(f"sort key {sort!r}: expected one of {', '.join(SORT_KEYS)}")
        blocks = list(self._all().values())
        if sort == "address":
            blocks.sort(key=lambda b: (b.linear, b.max_insns, b.id))
            return blocks[::-1] if descending else blocks
        metric = {
            "hotness": lambda b: b.hotness,
            "size": lambda b: b.code_size,
            "callouts": lambda b: b.callouts,
        }[sort]
        blocks.sort(key=lambda b: (b.linear, b.id))
        blocks.sort(key=metric, reverse=descending is not False)
        return blocks

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[Block]:
        return iter(self.blocks())

    def block(self, block_id: int) -> Block:
        """The block with this id (ids are those of the file)."""
        try:
            return self._all()[block_id]
        except KeyError:
            raise CacheFileError(f"{self.path}: no block #{block_id}") from None

    def blocks_at(self, eip: int) -> list[Block]:
        """Blocks starting at guest `eip` (several when a one-instruction re-run block follows
        a self-modifying write, or when code segments differ), else the blocks holding it."""
        if self._by_eip is None:
            self._by_eip = {}
            for b in self.blocks():
                self._by_eip.setdefault(b.eip, []).append(b)
        start = self._by_eip.get(eip)
        if start:
            return list(start)
        return [b for b in self.blocks() if b.eip <= eip < b.end]

    def block_at(self, eip: int) -> Block | None:
        """The block starting at guest `eip`, else one whose guest code holds it."""
        found = self.blocks_at(eip)
        return found[0] if found else None

    def find_mnemonic(self, mnemonic: str) -> list[Block]:
        """Blocks holding a guest instruction with this mnemonic (e.g. "cli", "mov"), or with
        text starting with `mnemonic` when it has a space ("mov eax, cr0")."""
        m = mnemonic.strip().lower()
        if not m:
            return []
        rows = self._query(
            "SELECT DISTINCT block_id FROM insns WHERE lower(text) = ? OR lower(text) LIKE ?"
            " ESCAPE '\\'",
            (m, m.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + " %"),
        )
        ids = {int(r[0]) for r in rows}
        return [b for b in self.blocks() if b.id in ids]

    def insn_texts(self) -> list[tuple[int, str]]:
        """(block id, instruction text) of every guest instruction of every block."""
        return [
            (int(b), str(t))
            for b, t in self._query("SELECT block_id, text FROM insns ORDER BY block_id, idx")
        ]

    def search(self, query: str) -> list[Block]:
        """Blocks for a guest address (hex, with or without 0x) or else a mnemonic."""
        addr = parse_address(query)
        if addr is not None:
            found = self.blocks_at(addr)
            if found or query.strip().lower().startswith("0x"):
                return found
        return self.find_mnemonic(query)

    # -- one block ---
    def guest_bytes(self, block_id: int) -> bytes:
        """The guest code the block was translated from."""
        rows = self._query("SELECT guest_bytes FROM blocks WHERE id = ?", (block_id,))
        return bytes(rows[0][0]) if rows else b""

    def code(self, block_id: int) -> bytes:
        """The block's translated code as it stood when saved (chained slots patched)."""
        rows = self._query("SELECT code FROM blocks WHERE id = ?", (block_id,))
        return bytes(rows[0][0]) if rows else b""

    def insns(self, block_id: int) -> tuple[Insn, ...]:
        """The block's guest instructions, each with its rule, reason and translated slice
        (`insns.tc_offset/tc_size` of the file) disassembled at its cache address."""
        cached = self._insns.get(block_id)
        if cached is not None:
            return cached
        block = self.block(block_id)
        code = self.code(block_id)
        rows = self._query(
            "SELECT idx, eip, bytes, text, rule, kind, reason, tc_offset, tc_size FROM insns"
            " WHERE block_id = ? ORDER BY idx",
            (block_id,),
        )
        out = []
        for idx, eip, raw, text, rule, kind, reason, off, size in rows:
            o, n = int(off), int(size)
            out.append(
                Insn(
                    block_id,
                    int(idx),
                    int(eip),
                    bytes(raw),
                    str(text),
                    str(rule),
                    str(kind),
                    str(reason),
                    o,
                    n,
                    disassemble(code[o : o + n], block.code_addr + o),
                )
            )
        self._insns[block_id] = tuple(out)
        return self._insns[block_id]

    def exits(self, block_id: int) -> list[ExitCode]:
        """The block's translated code after its last instruction's slice, cut just after each
        exit slot: each piece is the code leading to one slot (an inline-cache hit path, say)
        and the slot itself, with the link it implements; code after the last slot, if any,
        comes with no link."""
        block = self.block(block_id)
        pos = max((i.tc_offset + i.tc_size for i in self.insns(block_id)), default=0)
        code = self.code(block_id)
        slots = sorted((lk.slot_addr - block.code_addr, lk) for lk in self.links_out(block_id))
        out = []
        for off, lk in slots:
            if off < pos:
                continue  # a slot inside an instruction's own slice (not seen in practice)
            end = min(off + SLOT_SIZE, len(code))
            out.append(ExitCode(lk, disassemble(code[pos:end], block.code_addr + pos)))
            pos = end
        if pos < len(code):
            out.append(ExitCode(None, disassemble(code[pos:], block.code_addr + pos)))
        return out

    def links_out(self, block_id: int) -> list[Link]:
        """The block's exit slots, in slot order."""
        return self._links(" WHERE block_id = ? ORDER BY slot", (block_id,))

    def links_in(self, block_id: int) -> list[Link]:
        """Exit slots of other blocks (or its own) chained to this block."""
        return self._links(" WHERE dst_block = ? ORDER BY block_id, slot", (block_id,))

    def links(self) -> list[Link]:
        """Every exit slot of every block."""
        return self._links(" ORDER BY block_id, slot")

    def _links(self, where: str, args: tuple[object, ...] = ()) -> list[Link]:
        return [link_from_row(r) for r in self._query(_LINKS + where, args)]

    def callouts(self, block_id: int) -> dict[str, int]:
        """Callouts made from the block, by kind."""
        return {
            str(k): int(c)
            for k, c in self._query(
                "SELECT kind, count FROM callouts WHERE block_id = ? ORDER BY count DESC, kind",
                (block_id,),
            )
        }

    # -- the whole cache (bt/inspector/cachestats.py) ---
    def callouts_by_kind(self) -> dict[str, int]:
        """Callouts made from the saved blocks, by kind, most frequent first."""
        return cachestats.callouts_by_kind(self._query)

    def invalidations(self) -> list[Invalidation]:
        """The invalidation history saved with the cache, oldest first."""
        return cachestats.invalidations(self._query)

    def rules(self) -> dict[str, int]:
        """How many guest instructions of the saved blocks each rule was applied to."""
        return cachestats.rules(self._query)

    def summary(self) -> Summary:
        """Occupancy, hit rate (from the saved statistics), callouts by kind, invalidations.

        Callouts by kind come from the whole run's statistics when saved (they include blocks
        since evicted or invalidated), otherwise from the saved blocks."""
        stats = self._json_meta("cache_stats")
        blocks = list(self._all().values())
        return cachestats.summary(self.meta, stats, blocks, self.links(), self._query)


def open_cache(path: str) -> CacheFile:
    """Open the bt-cache file at `path` read-only (CacheFileError, a BadInput, if it is not one)."""
    return CacheFile(path)
