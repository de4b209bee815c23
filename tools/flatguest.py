"""Time a flat guest assembled from text (Keystone) under the engine: the cost tools' harness."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import keystone

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bt.loader import load_guest  # noqa: E402
from bt.machine import Machine, MachineConfig  # noqa: E402

BASE = 0x100000  # where the flat binary is loaded and entered


def time_flat_guest(text: str) -> float:
    """Seconds `text`, assembled at BASE and run in a 16 MiB machine, takes to reach its
    exit-port write (a guest that ends otherwise stops the tool)."""
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "guest.bin"
        path.write_bytes(bytes(ks.asm(text, BASE)[0]))
        image = load_guest(str(path), 16 << 20, "", BASE, None)
        m = Machine(MachineConfig(16 << 20), image, lambda _b: None)
        t = time.perf_counter()
        res = m.run(timeout=600)
        dt = time.perf_counter() - t
    if res.kind != "exit-port":
        raise SystemExit(f"guest did not finish: {res}")
    return dt
