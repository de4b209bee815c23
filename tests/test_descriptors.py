"""Descriptor decoding and the checks of LAR/LSL/VERR/VERW, segment loads and far transfers."""

from __future__ import annotations

import struct

from bt import descriptors as D
from bt.engine import descriptor


class Tables:
    """A GDT (and optional LDT) in a bytes buffer at linear 0x1000 / 0x2000."""

    def __init__(self, gdt: list[bytes], ldt: list[bytes] | None = None) -> None:
        self.mem = bytearray(0x3000)
        self.mem[0x1000 : 0x1000 + 8 * len(gdt)] = b"".join(gdt)
        self.gdt_base, self.gdt_limit = 0x1000, 8 * len(gdt) - 1
        self.ldt_base, self.ldt_limit = 0x2000, None
        if ldt is not None:
            self.mem[0x2000 : 0x2000 + 8 * len(ldt)] = b"".join(ldt)
            self.ldt_limit = 8 * len(ldt) - 1

    def read(self, linear_addr: int, size: int) -> bytes:
        return bytes(self.mem[linear_addr : linear_addr + size])


NULL = bytes(8)
CODE0 = descriptor(0, 0xFFFFFFFF, 0x9A)  # 0x08
DATA0 = descriptor(0, 0xFFFFFFFF, 0x92)  # 0x10
DATA3 = descriptor(0x1000, 0xFFFF, 0xF2, flags=0x4)  # 0x18
TSS = descriptor(0x2000, 0x67, 0x89, flags=0)  # 0x20
CONF3 = descriptor(0, 0xFFFFFFFF, 0xFE)  # 0x28, conforming code, DPL 3
NP = descriptor(0, 0xFFFFFFFF, 0x12)  # 0x30, not present data
XONLY = descriptor(0, 0xFFFFFFFF, 0x98)  # 0x38, execute-only code
T = Tables([NULL, CODE0, DATA0, DATA3, TSS, CONF3, NP, XONLY], ldt=[DATA0])


def test_decode() -> None:
    d = D.decode(DATA3)
    assert (d.base, d.limit, d.dpl, d.present, d.writable) == (0x1000, 0xFFFF, 3, True, True)
    assert D.decode(CODE0).limit == 0xFFFFFFFF
    assert D.decode(CODE0).attr == 0x00C09A00  # LAR masks the limit bits
    assert struct.unpack("<Q", CODE0)[0] == D.decode(CODE0).raw


def test_fetch_beyond_limit_and_ldt() -> None:
    assert D.fetch_descriptor(T, 0x40) is None
    assert D.fetch_descriptor(T, 0x04) is not None  # LDT entry 0
    assert D.fetch_descriptor(Tables([NULL]), 0x04) is None  # no LDT


def test_lar_lsl() -> None:
    assert D.lar(T, 0, 0) is None
    assert D.lar(T, 0x08, 0) == 0x00C09A00
    assert D.lar(T, 0x20, 0) == 0x00008900  # a TSS is valid for LAR
    assert D.lsl(T, 0x20, 0) == 0x67
    assert D.lsl(T, 0x18, 0) == 0xFFFF
    assert D.lar(T, 0x48, 0) is None  # beyond the GDT limit
    assert D.lar(T, 0x08, 3) is None  # DPL 0 from CPL 3
    assert D.lar(T, 0x2B, 3) is not None  # conforming code skips the check


def test_verr_verw() -> None:
    assert D.verr(T, 0x10, 0) and D.verw(T, 0x10, 0)
    assert D.verr(T, 0x08, 0) and not D.verw(T, 0x08, 0)
    assert not D.verr(T, 0x38, 0)  # execute-only code
    assert not D.verr(T, 0x20, 0)  # system segment
    assert not D.verw(T, 0x10, 3)  # DPL 0 data from CPL 3
    assert not D.verr(T, 0, 0)


def test_segment_loads() -> None:
    assert D.check_segment_load(T, 0, "ds", 0) == (None, None)
    assert D.check_segment_load(T, 0, "ss", 0)[1] == D.Fault(13, 0)
    assert D.check_segment_load(T, 0x10, "ds", 0)[0] is not None
    assert D.check_segment_load(T, 0x48, "ds", 0)[1] == D.Fault(13, 0x48)
    assert D.check_segment_load(T, 0x38, "ds", 0)[1] == D.Fault(13, 0x38)
    assert D.check_segment_load(T, 0x30, "ds", 0)[1] == D.Fault(11, 0x30)
    assert D.check_segment_load(T, 0x30, "ss", 0)[1] == D.Fault(12, 0x30)
    assert D.check_segment_load(T, 0x08, "ss", 0)[1] == D.Fault(13, 0x08)
    assert D.check_segment_load(T, 0x1B, "ss", 0)[1] == D.Fault(13, 0x18)  # RPL != CPL
    assert D.check_segment_load(T, 0x10, "ds", 3)[1] == D.Fault(13, 0x10)


def test_far_transfers() -> None:
    assert D.check_code_far_transfer(T, 0x08, 0)[0] is not None
    assert D.check_code_far_transfer(T, 0x10, 0)[1] == D.Fault(13, 0x10)
    assert D.check_code_far_transfer(T, 0, 0)[1] == D.Fault(13, 0)
    assert D.check_code_far_transfer(T, 0x20, 0) == (None, None)  # a TSS: task switch
    assert D.check_code_far_transfer(T, 0x0B, 0)[1] == D.Fault(13, 0x08)  # RPL 3 > CPL 0
