"""The whole-cache statistics of a bt-cache file: callouts by kind, rules, invalidations."""

from __future__ import annotations

from typing import Any, Protocol

from bt.inspector.records import Block, Invalidation, Link, Summary


class Query(Protocol):
    """Runs one SQL query on the open file (CacheFile._query: damage raises CacheFileError)."""

    def __call__(self, sql: str, args: tuple[object, ...] = ...) -> list[tuple[Any, ...]]: ...


def callouts_by_kind(query: Query) -> dict[str, int]:
    """Callouts made from the saved blocks, by kind, most frequent first."""
    return {
        str(k): int(c)
        for k, c in query(
            "SELECT kind, sum(count) AS n FROM callouts GROUP BY kind ORDER BY n DESC, kind"
        )
    }


def invalidations(query: Query) -> list[Invalidation]:
    """The invalidation history saved with the cache, oldest first."""
    return [
        Invalidation(int(s), str(r), None if p is None else int(p), int(e), int(c))
        for s, r, p, e, c in query(
            "SELECT seq, reason, page, eip, code_addr FROM invalidations ORDER BY seq"
        )
    ]


def rules(query: Query) -> dict[str, int]:
    """How many guest instructions of the saved blocks each rule was applied to."""
    return {
        str(k): int(c)
        for k, c in query(
            "SELECT rule, count(*) AS n FROM insns GROUP BY rule ORDER BY n DESC, rule"
        )
    }


def summary(
    meta: dict[str, str],
    stats: dict[str, object],
    blocks: list[Block],
    links: list[Link],
    query: Query,
) -> Summary:
    """The Summary of the saved blocks and links, with the run's statistics (`stats`, the
    `cache_stats` meta entry) where they were saved.

    Callouts by kind come from the whole run's statistics when saved (they include blocks
    since evicted or invalidated), otherwise from the saved blocks."""

    def num(key: str, default: int = 0) -> int:
        v = stats.get(key, default)
        return int(v) if isinstance(v, (int, float)) else default

    by_kind = stats.get("callouts")
    callouts = (
        {str(k): int(v) for k, v in sorted(by_kind.items(), key=lambda kv: -kv[1])}
        if isinstance(by_kind, dict)
        else callouts_by_kind(query)
    )
    gi = meta.get("guest_insns")
    return Summary(
        guest=meta.get("guest", "?"),
        blocks=len(blocks),
        guest_insns_translated=sum(b.insn_count for b in blocks),
        code_bytes=num("code_bytes", sum(b.code_size for b in blocks)),
        capacity=num("capacity"),
        lookups=num("lookups"),
        hits=num("hits"),
        translations=num("translations", len(blocks)),
        chains=num("chains"),
        links=len(links),
        chained_links=sum(1 for lk in links if lk.chained),
        invalidations=num("invalidations"),
        invalidations_saved=len(invalidations(query)),
        flushes=num("flushes"),
        executions_counted=any(b.executions is not None for b in blocks),
        guest_insns=int(gi) if gi is not None and gi.isdigit() else None,
        callouts_by_kind=callouts,
        rules=rules(query),
    )
