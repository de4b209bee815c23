"""The fidelity matrix: every sensitive instruction at CPL 0 and CPL 3 shows the guest what QEMU
shows it (the same check that generates the README's table)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import fidelity  # noqa: E402


def test_every_cell_equals_qemu() -> None:
    cells = fidelity.matrix()
    assert len(cells) == len(fidelity.INSNS) * len(fidelity.MODES)
    bad = {k: v for k, v in cells.items() if v != "="}
    assert not bad, bad
