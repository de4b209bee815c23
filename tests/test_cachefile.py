"""Cache files: a run's translation cache saved as SQLite, readable without the guest."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bt.cachefile import FORMAT, VERSION, save_cache
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig

BIN = Path(__file__).resolve().parent.parent / "guests" / "bin"


def run_and_save(tmp_path: Path, guest: str, name: str) -> tuple[Machine, Path]:
    """Run guests/bin/`guest` with instruction counting and save its cache as `name`."""
    image = load_guest(str(BIN / guest), 128 << 20)
    m = Machine(MachineConfig(128 << 20, count_insns=True), image, lambda _b: None)
    m.run(max_insns=2_000_000)
    path = tmp_path / name
    save_cache(str(path), m.cache, m.engine.read_code, {"guest": guest}, m.runloop.executions)
    return m, path


def test_saved_cache_describes_every_block(tmp_path: Path) -> None:
    m, path = run_and_save(tmp_path, "smc.elf", "smc.db")
    db = sqlite3.connect(path)
    meta = dict(db.execute("SELECT key, value FROM meta"))
    assert meta["format"] == FORMAT and meta["version"] == str(VERSION)
    assert json.loads(meta["cache_stats"])["blocks"] == len(m.cache.blocks())
    (nblocks,) = db.execute("SELECT count(*) FROM blocks").fetchone()
    assert nblocks == len(m.cache.blocks())
    # Each block's code is what the engine holds, and its instructions tile the guest bytes.
    for bid, code_addr, size, code, guest in db.execute(
        "SELECT id, code_addr, code_size, code, guest_bytes FROM blocks"
    ):
        assert code == m.engine.read_code(code_addr, size)
        raw = b"".join(
            r
            for (r,) in db.execute(
                "SELECT bytes FROM insns WHERE block_id = ? ORDER BY idx", (bid,)
            )
        )
        assert raw == guest
    rules = {r for (r,) in db.execute("SELECT DISTINCT rule FROM insns")}
    assert {"copy", "callout", "branch"} <= rules
    (reasons,) = db.execute("SELECT count(*) FROM insns WHERE reason = ''").fetchone()
    assert reasons == 0
    # The self-modifying guest leaves its history behind.
    (invalidations,) = db.execute("SELECT count(*) FROM invalidations").fetchone()
    assert invalidations > 0
    (hot,) = db.execute("SELECT max(executions) FROM blocks").fetchone()
    assert hot >= 100  # the guest runs its hottest loop 100 times
