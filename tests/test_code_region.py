"""The engine's code region: every write over code that may have been compiled drops Unicorn's
compiled copies (DESIGN fact 24), however the writes before it were laid out."""

from __future__ import annotations

from unicorn import Uc

from bt.engine import Engine
from bt.layout import TC_LINEAR


class _Spy:
    """Unicorn, with the code-cache removals it is asked for recorded."""

    def __init__(self, uc: Uc) -> None:
        self._uc = uc
        self.removed: list[tuple[int, int]] = []

    def mem_write(self, addr: int, data: bytes) -> None:
        self._uc.mem_write(addr, data)

    def ctl_remove_cache(self, start: int, end: int) -> None:
        self.removed.append((start, end))
        self._uc.ctl_remove_cache(start, end)

    def ctl_flush_tb(self) -> None:
        self._uc.ctl_flush_tb()


def _engine() -> tuple[Engine, _Spy]:
    eng = Engine(1 << 20)
    spy = _Spy(eng.uc)
    eng.uc = spy  # type: ignore[assignment]
    return eng, spy


def test_patch_inside_a_block_written_across_the_fresh_mark_is_dropped() -> None:
    # A block written from below the never-written mark to above it may be compiled once it
    # runs: a later patch of its bytes above the old mark (a RET cache's compare values)
    # must drop the compiled copy. It once did not: a CPL 3 RET under guest paging returned
    # through an old entry (tasks_ts as built at dc6f8de triple-faulted).
    eng, spy = _engine()
    eng.write_code(TC_LINEAR, b"\x90" * 0x101)
    eng.write_code(TC_LINEAR + 0x100, b"\xb8\x11\x11\x11\x11\xc3")
    eng.write_code(TC_LINEAR + 0x101, b"\x22\x22\x22\x22")
    assert (TC_LINEAR + 0x101, TC_LINEAR + 0x105) in spy.removed


def test_code_never_written_since_a_flush_needs_no_removal() -> None:
    eng, spy = _engine()
    eng.write_code(TC_LINEAR + 0x1000, b"\x90" * 16)
    assert spy.removed == []
    eng.write_code(TC_LINEAR + 0x1004, b"\xc3")  # inside what was written: may be compiled
    assert spy.removed == [(TC_LINEAR + 0x1004, TC_LINEAR + 0x1005)]
    eng.code_flushed(TC_LINEAR)
    eng.write_code(TC_LINEAR + 0x1004, b"\xc3")  # everything dropped at the flush
    assert spy.removed == [(TC_LINEAR + 0x1004, TC_LINEAR + 0x1005)]
