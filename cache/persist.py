"""PersistentStore: translations kept between runs (`--cache-dir`), never used when stale.

Each entry is keyed by the block's TBKey, the translator's version (a hash of the translator's
own source, so any change to how code is translated retires every entry) and a SHA-256 of the
guest bytes it was made from. A lookup re-reads those guest bytes and uses the entry only when
their hash still matches. Entries are JSON in one SQLite file, not pickles: a cache directory
is data, and loading it must not run code.

hashlib, json and sqlite3 are imported where they are used: a run without --cache-dir never
needs them, and they cost `bt run` ~20 ms of start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bt import translator
from bt.cache.block import TBKey
from bt.translator.insn import GuestInsn, ImmOp, MemOp, Operand, RegOp
from bt.translator.records import (
    CalloutSite,
    ExitPlan,
    InsnRecord,
    Rule,
    Sensitivity,
    TranslatedCode,
)


def translator_version() -> str:
    """A hash of the translator's source files and of this file's encoding."""
    import hashlib

    h = hashlib.sha256()
    pkg = Path(translator.__file__).parent
    for path in sorted(pkg.glob("*.py")) + [Path(__file__)]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _op(op: Operand) -> list[Any]:
    if isinstance(op, RegOp):
        return ["r", op.name, op.size]
    if isinstance(op, ImmOp):
        return ["i", op.value, op.size]
    return ["m", op.seg, op.base, op.index, op.scale, op.disp, op.size, op.addr_size]


def _unop(v: list[Any]) -> Operand:
    if v[0] == "r":
        return RegOp(v[1], v[2])
    if v[0] == "i":
        return ImmOp(v[1], v[2])
    return MemOp(v[1], v[2], v[3], v[4], v[5], v[6], v[7])


def _insn(i: GuestInsn) -> list[Any]:
    return [
        i.eip,
        i.linear,
        i.raw.hex(),
        i.insn_id,
        i.mnemonic,
        i.op_str,
        [_op(o) for o in i.operands],
        list(i.prefixes),
        i.opsize,
        i.guest.hex(),
    ]


def _uninsn(v: list[Any]) -> GuestInsn:
    return GuestInsn(
        v[0],
        v[1],
        bytes.fromhex(v[2]),
        v[3],
        v[4],
        v[5],
        tuple(_unop(o) for o in v[6]),
        tuple(v[7]),
        v[8],
        bytes.fromhex(v[9]) if len(v) > 9 else b"",
    )


def encode(code: TranslatedCode) -> str:
    import json

    """TranslatedCode as JSON text."""
    insns = [_insn(r.insn) for r in code.insns]
    index = {id(r.insn): n for n, r in enumerate(code.insns)}
    extra: list[list[Any]] = []  # callout instructions that are not block records
    sites = []
    for s in code.callouts:
        n = index.get(id(s.insn))
        if n is None:
            extra.append(_insn(s.insn))
            n = -len(extra)
        sites.append([s.resume, n, s.kind, s.ends_block, list(s.ic_fields), list(s.ic_exits)])
    return json.dumps(
        {
            "code": code.code.hex(),
            "insns": insns,
            "extra": extra,
            "records": [
                [r.offset, r.sensitivity.rule.value, r.sensitivity.kind, r.sensitivity.reason]
                for r in code.insns
            ],
            "callouts": sites,
            "exits": [[e.offset, e.target, e.edge, e.branch] for e in code.exits],
            "ranges": [list(r) for r in code.guest_ranges],
            "assumes": [list(a) for a in code.assumes],
            "prologue": code.prologue,
        },
        separators=(",", ":"),
    )


def decode(text: str) -> TranslatedCode:
    import json

    """The TranslatedCode that `encode` wrote."""
    d = json.loads(text)
    insns = [_uninsn(v) for v in d["insns"]]
    extra = [_uninsn(v) for v in d["extra"]]
    records = tuple(
        InsnRecord(off, insns[n], Sensitivity(Rule(rule), kind, reason))
        for n, (off, rule, kind, reason) in enumerate(d["records"])
    )
    callouts = tuple(
        CalloutSite(
            resume, insns[n] if n >= 0 else extra[-n - 1], kind, ends, tuple(fields), tuple(exits)
        )
        for resume, n, kind, ends, fields, exits in d["callouts"]
    )
    exits = tuple(ExitPlan(off, target, edge, br) for off, target, edge, br in d["exits"])
    ranges = tuple((a, b) for a, b in d["ranges"])
    assumes = tuple((str(name), int(value)) for name, value in d["assumes"])
    prologue = int(d.get("prologue", 0))
    return TranslatedCode(
        bytes.fromhex(d["code"]), records, callouts, exits, ranges, assumes, prologue
    )


def guest_hash(data: bytes) -> str:
    """The digest that ties an entry to the guest bytes it was made from."""
    import hashlib

    return hashlib.sha256(data).hexdigest()


class PersistentStore:
    """One SQLite file in the cache directory; writes are committed by `close()`."""

    def __init__(self, directory: str, variant: str = "") -> None:
        """`variant`: what else shapes a translation (the CPU model: which instructions #UD),
        kept apart from the translator's version so one directory serves every model."""
        import sqlite3

        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.version = translator_version() + (f"/{variant}" if variant else "")
        self._db = sqlite3.connect(path / "translations.sqlite")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS tb(version TEXT, cs_base INTEGER, eip INTEGER,"
            " mode TEXT, max_insns INTEGER, guest_hash TEXT, ranges TEXT, payload TEXT,"
            " PRIMARY KEY(version, cs_base, eip, mode, max_insns, guest_hash))"
        )
        self.hits = 0
        self.stale = 0
        self.stored = 0

    def candidates(self, key: TBKey) -> list[tuple[str, list[list[int]], str]]:
        """(guest hash, guest ranges, payload) of every entry for `key` and this version."""
        import json

        rows = self._db.execute(
            "SELECT guest_hash, ranges, payload FROM tb WHERE version=? AND cs_base=? AND eip=?"
            " AND mode=? AND max_insns=?",
            (self.version, key.cs_base, key.eip, key.label, key.max_insns),
        ).fetchall()
        return [(h, json.loads(r), p) for h, r, p in rows]

    def put(self, key: TBKey, code: TranslatedCode, guest_bytes: bytes) -> None:
        """Remember a translation made from `guest_bytes`."""
        import json

        self._db.execute(
            "INSERT OR REPLACE INTO tb VALUES (?,?,?,?,?,?,?,?)",
            (
                self.version,
                key.cs_base,
                key.eip,
                key.label,
                key.max_insns,
                guest_hash(guest_bytes),
                json.dumps([list(r) for r in code.guest_ranges]),
                encode(code),
            ),
        )
        self.stored += 1

    def close(self) -> None:
        """Commit and close the file."""
        self._db.commit()
        self._db.close()
