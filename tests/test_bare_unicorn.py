"""The bare-Unicorn yardstick on paging guests: Unicorn's own walker, #PF delivered at CPL 0."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from bare_unicorn import run_bare  # noqa: E402

BIN = ROOT / "guests" / "bin"
EXPECTED = ROOT / "guests" / "expected"


def test_pagebench_prints_what_qemu_prints() -> None:
    """78 million instructions, 16,384 demand and 19,968 copy-on-write faults: the handler
    checks each error code (3 for a supervisor write to a read-only page) and CR2, so one
    wrong delivery ends the run with another message."""
    res = run_bare(str(BIN / "pagebench.elf"))
    assert res.output == (EXPECTED / "pagebench.serial").read_bytes()
    assert res.status == int((EXPECTED / "pagebench.status").read_text()) == 1
    assert res.exceptions == 16384 + 19968


def test_an_exception_at_cpl_3_stops_the_run_with_a_reason() -> None:
    """paging_faults takes a fault in user mode: delivering it needs the TSS stack switch,
    which the yardstick does not do."""
    with pytest.raises(SystemExit, match="only CPL 0 is delivered"):
        run_bare(str(BIN / "paging_faults.elf"))
