"""TranslationCache: lookup by TBKey, insertion, chaining, invalidation (one checklist), stats."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bt.cache.block import ExitSlot, TBKey, TranslationBlock
from bt.cache.chain import CodeWriter, link, may_chain, unlink
from bt.cache.codebuf import CodeAddr, CodeBuffer
from bt.cache.errors import CacheError
from bt.translator.records import CalloutSite, TranslatedCode


@dataclass(frozen=True, slots=True)
class Invalidation:
    """One invalidation event, kept for the inspector."""

    reason: str
    page: int | None
    eip: int
    code_addr: int


@dataclass(frozen=True, slots=True)
class CacheStats:
    """The cache's counters (a snapshot)."""

    blocks: int
    code_bytes: int
    host_bytes: int  # what the live blocks cost the host (code and records, estimated)
    host_budget: int
    capacity: int
    lookups: int
    hits: int
    translations: int  # blocks the translator made in this run
    reused: int  # blocks taken from the persistent store instead
    chains: int
    invalidations: int
    flushes: int
    code_pages: int
    callouts: dict[str, int]


# Host memory one block costs beyond its code: the TranslationBlock, its instruction records
# (decoded operands, Capstone's strings), exit slots and index entries. Measured with
# tracemalloc on guests/translate.asm (20,026 blocks of 4 instructions: 3,114 bytes a block).
BLOCK_HOST_BYTES = 700
INSN_HOST_BYTES = 600
DEFAULT_HOST_BUDGET = 128 << 20  # --cache-size's default


def host_bytes(code_size: int, insns: int) -> int:
    """What a block of `code_size` code bytes and `insns` guest instructions costs the host."""
    return code_size + BLOCK_HOST_BYTES + INSN_HOST_BYTES * insns


class TranslationCache:
    """Owns every TranslationBlock; knows nothing of devices, the vCPU or the translator.

    Bounded twice: by the code region's size and by `host_budget`, the host memory its blocks
    may cost (code plus records). When either is full the whole cache is flushed, QEMU-style;
    a retired block's records are dropped at once and its code space is reused, so nothing is
    kept per invalidation.
    """

    HISTORY = 1000

    def __init__(
        self,
        writer: CodeWriter,
        buffer: CodeBuffer,
        unchained_slot: bytes,
        chaining: bool = True,
        on_code_page: Callable[[int, bool], None] | None = None,
        host_budget: int = DEFAULT_HOST_BUDGET,
    ) -> None:
        self._writer = writer
        self._buffer = buffer
        self._unchained = unchained_slot
        self.chaining = chaining
        self._on_code_page = on_code_page  # told when a guest page gains or loses its last block
        self._by_key: dict[TBKey, TranslationBlock] = {}
        self._starts: list[int] = []
        self._blocks: list[TranslationBlock] = []
        self._by_page: dict[int, set[TranslationBlock]] = {}
        self._by_assumption: dict[str, set[TranslationBlock]] = {}
        self._callouts: dict[int, tuple[TranslationBlock, CalloutSite]] = {}
        self._exits: dict[int, tuple[TranslationBlock, int]] = {}
        self.history: list[Invalidation] = []
        self._lookups = 0
        self._hits = 0
        self._translations = 0
        self.reused = 0  # insertions whose code came from the persistent store
        self._chains = 0
        self._invalidations = 0
        self.callout_counts: Counter[str] = Counter()
        self.on_flush: list[Callable[[], None]] = []  # after a flush: drop what is per block
        # As a block is retired, while it is still indexed (its code and map intact).
        self.on_retire: list[Callable[[TranslationBlock], None]] = []
        self.before_flush: list[Callable[[], None]] = []  # before a flush clears anything
        self.on_insert: list[Callable[[TranslationBlock], None]] = []  # told of new blocks
        self.host_budget = host_budget
        self.entry_checks: frozenset[int] = frozenset()  # cache/chain.py may_chain
        self._host = 0  # what the live blocks cost (host_bytes)

    # -- lookup ---
    def lookup(self, key: TBKey) -> TranslationBlock | None:
        """The valid block for `key`, if any."""
        self._lookups += 1
        tb = self._by_key.get(key)
        if tb is not None:
            self._hits += 1
        return tb

    def block_at(self, code_addr: CodeAddr) -> TranslationBlock | None:
        """The block whose code covers translation-cache address `code_addr`."""
        i = bisect.bisect_right(self._starts, code_addr) - 1
        if i < 0:
            return None
        tb = self._blocks[i]
        return tb if code_addr < tb.code_addr + tb.size else None

    def callout_at(self, resume: CodeAddr) -> tuple[TranslationBlock, CalloutSite] | None:
        """The callout whose `int` ends just before `resume`."""
        return self._callouts.get(resume)

    def exit_at(self, resume: CodeAddr) -> tuple[TranslationBlock, int] | None:
        """The exit slot whose `int` ends just before `resume`, as (block, slot number)."""
        return self._exits.get(resume)

    def blocks(self) -> list[TranslationBlock]:
        """Every valid block, in code order."""
        return list(self._blocks)

    # -- insertion ---
    def insert(
        self, key: TBKey, code: TranslatedCode, pages: tuple[int, ...], guest_bytes: bytes
    ) -> TranslationBlock:
        """Place translated code in the code region and index it; flushes when full."""
        cost = host_bytes(len(code.code), len(code.insns))
        if self._host + cost > self.host_budget and self._host:
            self.flush("host memory budget (--cache-size) reached")
        addr = self._buffer.alloc(len(code.code))
        if addr is None:
            self.flush("code region full")
            addr = self._buffer.alloc(len(code.code))
            if addr is None:
                raise CacheError(f"block of {len(code.code)} bytes exceeds the code region")
        self._writer.write_code(addr, code.code)
        exits = [
            ExitSlot(
                CodeAddr(addr + e.offset),
                e.target,
                e.edge,
                branch=addr + e.branch if e.branch >= 0 else None,
            )
            for e in code.exits
        ]
        tb = TranslationBlock(
            key=key,
            code_addr=addr,
            size=len(code.code),
            guest_ranges=code.guest_ranges,
            guest_pages=pages,
            insns=code.insns,
            callouts=code.callouts,
            exits=exits,
            guest_bytes=guest_bytes,
            assumes=code.assumes,
            prologue=code.prologue,
        )
        old = self._by_key.get(key)
        if old is not None:
            self.invalidate(old, "replaced")
        self._by_key[key] = tb
        i = bisect.bisect_left(self._starts, addr)
        self._starts.insert(i, addr)
        self._blocks.insert(i, tb)
        self._host += cost
        for page in pages:
            holders = self._by_page.setdefault(page, set())
            if not holders and self._on_code_page is not None:
                self._on_code_page(page, True)
            holders.add(tb)
        for name, _value in code.assumes:
            self._by_assumption.setdefault(name, set()).add(tb)
        for site in code.callouts:
            self._callouts[addr + site.resume] = (tb, site)
        for no, slot in enumerate(exits):
            self._exits[slot.address + 2] = (tb, no)
        self._translations += 1
        for told in self.on_insert:
            told(tb)
        return tb

    # -- chaining ---
    def chain(self, src: TranslationBlock, slot_no: int, dst: TranslationBlock) -> bool:
        """Link `src`'s exit `slot_no` to `dst` if chaining is on and both are still valid."""
        valid = src.valid and dst.valid
        if not (self.chaining and valid and may_chain(src, dst, self.entry_checks)):
            return False
        if src.exits[slot_no].linked is not None:
            return False
        link(self._writer, src, slot_no, dst)
        self._chains += 1
        return True

    def retarget_return_cache(
        self, tb: TranslationBlock, site: CalloutSite, target: int, dst: TranslationBlock
    ) -> None:
        """Aim one entry of a RET site's inline cache at guest `target` (block `dst`)."""
        if not tb.valid or not site.ic_fields or not may_chain(tb, dst, self.entry_checks):
            return
        state = tb.ic_state.setdefault(site.resume, [0, 0, 0])
        entry = state[2]
        state[2] ^= 1
        state[entry] = target
        p1, p2 = state[0], state[1]
        values = (-p1, p1 - p2, p2, p1, p2)
        for off, val in zip(site.ic_fields, values, strict=True):
            self._writer.write_code(tb.code_addr + off, (val & 0xFFFFFFFF).to_bytes(4, "little"))
        slot_no = site.ic_exits[entry]
        unlink(self._writer, tb, slot_no, self._unchained)
        tb.exits[slot_no].target = target
        if self.chaining and dst.valid:
            link(self._writer, tb, slot_no, dst)
            self._chains += 1

    # -- invalidation ---
    def invalidate(self, tb: TranslationBlock, reason: str, page: int | None = None) -> None:
        """Retire one block, QEMU-style, by a fixed checklist."""
        if not tb.valid:
            return
        for retired in self.on_retire:
            retired(tb)
        # 1. no new lookups or chains can reach it
        tb.valid = False
        if self._by_key.get(tb.key) is tb:
            del self._by_key[tb.key]
        # 2. off the page index (and tell the memory when a page holds no code any more)
        for p in tb.guest_pages:
            holders = self._by_page.get(p)
            if holders is not None:
                holders.discard(tb)
                if not holders:
                    del self._by_page[p]
                    if self._on_code_page is not None:
                        self._on_code_page(p, False)
        for name, _value in tb.assumes:
            self._by_assumption.get(name, set()).discard(tb)
        # 3. its callouts and exits no longer resolve
        for site in tb.callouts:
            self._callouts.pop(tb.code_addr + site.resume, None)
        for slot in tb.exits:
            self._exits.pop(slot.address + 2, None)
        # 4. unlink its outgoing jumps
        for no, _slot in enumerate(tb.exits):
            unlink(self._writer, tb, no, self._unchained)
        # 5. unpatch every block that jumps into it
        for src, no in list(tb.incoming):
            unlink(self._writer, src, no, self._unchained)
        # 6. drop it from the address index and give its code space back
        i = bisect.bisect_left(self._starts, tb.code_addr)
        if i < len(self._blocks) and self._blocks[i] is tb:
            del self._starts[i]
            del self._blocks[i]
            self._buffer.free(tb.code_addr, tb.size)
        self._host -= host_bytes(tb.size, len(tb.insns))
        self._invalidations += 1
        self.history.append(Invalidation(reason, page, tb.key.eip, tb.code_addr))
        if len(self.history) > self.HISTORY:
            del self.history[: len(self.history) - self.HISTORY]

    def invalidate_page(self, page: int, reason: str) -> list[TranslationBlock]:
        """Retire every block made from bytes on guest-physical `page`."""
        victims = sorted(self._by_page.get(page, ()), key=_at)  # not the set's (id) order
        for tb in victims:
            self.invalidate(tb, reason, page)
        return victims

    def invalidate_assumption(self, name: str, value: int) -> list[TranslationBlock]:
        """Retire every block that built in virtual state `name` with another value than
        `value` (the monitor changed it: CR0, GDTR, IDTR)."""
        held = self._by_assumption.get(name, ())
        victims = sorted((tb for tb in held if (name, value) not in tb.assumes), key=_at)
        for tb in victims:
            self.invalidate(tb, f"{name} changed")
        return victims

    def is_code_page(self, page: int) -> bool:
        """Whether any valid block was made from bytes on `page`."""
        return page in self._by_page

    def code_pages(self) -> list[int]:
        """Every guest-physical page that holds translated code."""
        return list(self._by_page)

    def flush(self, reason: str) -> None:
        """Retire every block and reclaim the whole code region. The checklist's code
        patches are skipped: no block survives to jump anywhere, and the engine drops all of
        Unicorn's compiled code at once (`code_flushed`). `on_retire` is not called per block:
        `before_flush` and `on_flush` stand for it."""
        for early in self.before_flush:
            early()
        for tb in self._blocks:
            tb.valid = False
            tb.incoming.clear()
            for slot in tb.exits:
                slot.linked = None
        self._invalidations += len(self._blocks)
        if self._blocks:
            first = self._blocks[0]
            self.history.append(
                Invalidation(
                    f"{reason} (flush of {len(self._blocks)} blocks)",
                    None,
                    first.key.eip,
                    first.code_addr,
                )
            )
            del self.history[: max(0, len(self.history) - self.HISTORY)]
        if self._on_code_page is not None:
            for page in self._by_page:
                self._on_code_page(page, False)
        self._by_key.clear()
        self._by_page.clear()
        self._by_assumption.clear()
        self._callouts.clear()
        self._exits.clear()
        self._starts.clear()
        self._blocks.clear()
        self._host = 0
        self._buffer.reset()
        self._writer.code_flushed(self._buffer.base)
        for drop in self.on_flush:
            drop()

    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        live = self.blocks()
        return CacheStats(
            blocks=len(live),
            code_bytes=sum(tb.size for tb in live),
            host_bytes=self._host,
            host_budget=self.host_budget,
            capacity=self._buffer.size,
            lookups=self._lookups,
            hits=self._hits,
            translations=self._translations - self.reused,
            reused=self.reused,
            chains=self._chains,
            invalidations=self._invalidations,
            flushes=self._buffer.stats().flushes,
            code_pages=len(self._by_page),
            callouts=dict(self.callout_counts),
        )


__all__ = ["CacheStats", "Invalidation", "TranslationCache", "ExitSlot"]


def _at(tb: TranslationBlock) -> int:
    """Retiring order: by code address, so that where code space is given back first (and so
    where later blocks go) never follows object addresses (a set's order)."""
    return tb.code_addr
