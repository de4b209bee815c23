"""The fidelity matrix: every sensitive instruction at CPL 0 and CPL 3, with guest paging off and
on, shows the guest what QEMU shows it (the same check that generates the README's table)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import fidelity  # noqa: E402


def test_every_cell_equals_qemu() -> None:
    cells = fidelity.matrix()
    assert len(cells) == len(fidelity.INSNS) * len(fidelity.COLUMNS)
    bad = {k: v for k, v in cells.items() if v != "="}
    assert not bad, bad


def test_paging_changes_only_cr0_pg_for_qemu() -> None:
    # The paged run's layout keeps every operand, stack and table on a page the access may
    # use (SDM 4.6), so QEMU shows the guest what it shows without paging but for CR0.PG in
    # what reads CR0: a "DIFF" in a paged column is the engine's, not the layout's.
    off = fidelity.lines_by_cell(fidelity.REFERENCE.read_text())
    on = fidelity.lines_by_cell(fidelity.PAGED_REFERENCE.read_text())
    assert on.keys() == off.keys() and len(on) == len(fidelity.INSNS) * len(fidelity.MODES)
    changed = {k for k in off if on[k] != off[k]}
    assert changed == {("cpl0", "LMSW"), ("cpl0", "MOV CRn"), ("cpl0", "SMSW"), ("cpl3", "SMSW")}
    for k in changed:
        assert on[k] == off[k].replace("=0x00000011", "=0x80000011")
