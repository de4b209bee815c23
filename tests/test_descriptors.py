"""Descriptor decoding and the checks of LAR/LSL/VERR/VERW, segment loads and far transfers."""

from __future__ import annotations

import struct

import pytest

from bt import descriptors as D
from bt.errors import InternalError
from bt.realsegments import descriptor as desc


def gate(selector: int, offset: int, access: int) -> bytes:
    """A call or task gate."""
    lo = (offset & 0xFFFF) | (selector << 16)
    hi = (offset & 0xFFFF0000) | (access << 8)
    return struct.pack("<II", lo, hi)


class Tables:
    """A GDT (and optional LDT) in a bytes buffer at linear 0x1000 / 0x2000."""

    def __init__(self, gdt: list[bytes], ldt: list[bytes] | None = None) -> None:
        self.mem = bytearray(0x3000)
        self.mem[0x1000 : 0x1000 + 8 * len(gdt)] = b"".join(gdt)
        self.gdt_base, self.gdt_limit = 0x1000, 8 * len(gdt) - 1
        self.ldt_base = 0x2000
        self.ldt_limit: int | None = None
        if ldt is not None:
            self.mem[0x2000 : 0x2000 + 8 * len(ldt)] = b"".join(ldt)
            self.ldt_limit = 8 * len(ldt) - 1

    def read(self, linear_addr: int, size: int) -> bytes:
        return bytes(self.mem[linear_addr : linear_addr + size])


NULL = bytes(8)
GDT = {
    0x08: desc(0, 0xFFFFFFFF, 0x9A),  # code, DPL 0, readable
    0x10: desc(0, 0xFFFFFFFF, 0x92),  # data, DPL 0, writable
    0x18: desc(0x1000, 0xFFFF, 0xF2, flags=0x4),  # data, DPL 3
    0x20: desc(0x2000, 0x67, 0x89, flags=0),  # available 32-bit TSS
    0x28: desc(0, 0xFFFFFFFF, 0x9E),  # conforming readable code, DPL 0
    0x30: desc(0, 0xFFFFFFFF, 0x12),  # data, not present
    0x38: desc(0, 0xFFFFFFFF, 0x98),  # execute-only code, DPL 0
    0x40: desc(0, 0xFFFFFFFF, 0x90),  # read-only data, DPL 0
    0x48: desc(0, 0xFFFFFFFF, 0xFA),  # code, DPL 3
    0x50: gate(0x08, 0x1234, 0xEC),  # 32-bit call gate, DPL 3
    0x58: gate(0x20, 0, 0x85),  # task gate, DPL 0
    0x60: desc(0x3000, 0x1F, 0x82, flags=0),  # LDT
    0x68: desc(0, 0, 0x8E, flags=0),  # 32-bit interrupt gate (type 14)
    0x70: desc(0x2000, 0x67, 0x8B, flags=0),  # busy 32-bit TSS
    0x78: desc(0, 0xFFFFF, 0x1A, flags=0),  # code, not present, limit 0xFFFFF bytes
    0x80: desc(0, 0xFFFFFFFF, 0xB2),  # data, DPL 1
    0x88: desc(0, 0xFFFFFFFF, 0xDE),  # conforming code, DPL 2
    0x90: gate(0x08, 0, 0x6C),  # 32-bit call gate, not present
    0x98: desc(0, 0xFFFFF, 0x9A, flags=0x1),  # code, byte limit 0xFFFFF, AVL set
    0xA0: bytes.fromhex("ffff0000fff2ff00"),  # data DPL 3, limit 19:16 = 0xF, all flags set
}
LDT = [desc(0, 0xFFFFFFFF, 0xF2), desc(0, 0xFFFFFFFF, 0xFA)]


def tables(with_ldt: bool = True) -> Tables:
    gdt = [NULL] * (max(GDT) // 8 + 1)
    for sel, raw in GDT.items():
        gdt[sel // 8] = raw
    return Tables(gdt, LDT if with_ldt else None)


T = tables()
BEYOND = max(GDT) + 8


# -- decoding ------------------------------------------------------------------------------------
def test_decode_fields() -> None:
    d = D.decode(GDT[0x18])
    assert (d.base, d.limit, d.dpl, d.present, d.s, d.type) == (0x1000, 0xFFFF, 3, True, True, 2)
    assert (d.g, d.db, d.l, d.avl) == (False, True, False, False)
    assert d.is_data and d.writable and d.readable and not d.is_code and not d.expand_down
    code = D.decode(GDT[0x08])
    assert code.limit == 0xFFFFFFFF and code.g and code.db
    assert code.is_code and code.readable and not code.writable and not code.conforming
    assert code.attr == 0x00C09A00
    assert struct.unpack("<Q", GDT[0x08])[0] == code.raw


def test_decode_flags_and_attr_mask() -> None:
    d = D.decode(GDT[0xA0])
    assert (d.g, d.db, d.l, d.avl) == (True, True, True, True)
    assert d.attr == 0x00F0F200  # limit 19:16 masked out
    assert D.decode(GDT[0x98]).avl and D.decode(GDT[0x98]).limit == 0xFFFFF


def test_decode_type_helpers() -> None:
    assert D.decode(GDT[0x28]).conforming
    assert not D.decode(GDT[0x38]).readable
    assert not D.decode(GDT[0x40]).writable
    assert D.decode(desc(0, 0xFFF, 0x96)).expand_down
    assert D.decode(desc(0, 0xFFF, 0x93)).accessed
    tss = D.decode(GDT[0x20])
    assert not tss.s and not tss.is_code and not tss.is_data and not tss.readable


# -- fetching ------------------------------------------------------------------------------------
def test_fetch_within_and_beyond_the_gdt_limit() -> None:
    assert D.fetch_descriptor(T, 0x08) == D.decode(GDT[0x08])
    assert D.fetch_descriptor(T, 0x0B) == D.decode(GDT[0x08])  # RPL is not part of the index
    assert D.fetch_descriptor(T, max(GDT)) is not None
    assert D.fetch_descriptor(T, BEYOND) is None


def test_fetch_entry_straddling_the_limit() -> None:
    t = tables()
    t.gdt_limit = 0x0E  # entry 1 is only partly inside
    assert D.fetch_descriptor(t, 0x08) is None
    t.gdt_limit = 0x0F
    assert D.fetch_descriptor(t, 0x08) is not None


def test_fetch_ldt_selectors() -> None:
    assert D.fetch_descriptor(T, 0x04) == D.decode(LDT[0])  # TI=1 index 0 is not null
    assert D.fetch_descriptor(T, 0x0F) == D.decode(LDT[1])
    assert D.fetch_descriptor(T, 0x14) is None  # beyond the LDT limit
    assert D.fetch_descriptor(tables(with_ldt=False), 0x04) is None  # no LDT
    t = tables(with_ldt=False)
    t.ldt_limit = 0  # null LDTR as QEMU records it
    assert D.fetch_descriptor(t, 0x04) is None


# -- LAR / LSL -----------------------------------------------------------------------------------
def test_lar_null_and_beyond_limit() -> None:
    for sel in (0, 1, 2, 3, BEYOND, 0x14):
        assert D.lar(T, sel, 0) is None
        assert D.lsl(T, sel, 0) is None


def test_lar_code_and_data() -> None:
    assert D.lar(T, 0x08, 0) == 0x00C09A00
    assert D.lar(T, 0x18, 3) == 0x0040F200
    assert D.lar(T, 0xA0, 0) == 0x00F0F200  # QEMU zeroes limit 19:16 (measured)
    assert D.lar(T, 0x30, 0) == 0x00C01200  # not present is fine
    assert D.lar(T, 0x07, 3) == 0x00C0F200  # LDT entry 0
    assert D.lar(T, 0x0F, 3) == 0x00C0FA00  # LDT entry 1


@pytest.mark.parametrize(
    ("sel", "lar_ok", "lsl_limit"),
    [
        (0x20, True, 0x67),  # available 32-bit TSS
        (0x70, True, 0x67),  # busy 32-bit TSS
        (0x60, True, 0x1F),  # LDT
        (0x50, True, None),  # call gate: LAR yes, LSL no
        (0x58, True, None),  # task gate: LAR yes, LSL no
        (0x68, False, None),  # interrupt gate: neither
    ],
)
def test_lar_lsl_system_types(sel: int, lar_ok: bool, lsl_limit: int | None) -> None:
    assert (D.lar(T, sel, 0) is not None) == lar_ok
    assert D.lsl(T, sel, 0) == lsl_limit


@pytest.mark.parametrize("system_type", range(16))
def test_lar_lsl_every_system_type(system_type: int) -> None:
    t = Tables([NULL, desc(0, 0x10, 0x80 | system_type, flags=0)])
    assert (D.lar(t, 0x08, 0) is not None) == (system_type in {1, 2, 3, 4, 5, 9, 11, 12})
    assert (D.lsl(t, 0x08, 0) is not None) == (system_type in {1, 2, 3, 9, 11})


def test_lar_lsl_privilege() -> None:
    assert D.lar(T, 0x08, 3) is None  # DPL 0 from CPL 3
    assert D.lar(T, 0x80, 1) is not None and D.lar(T, 0x80, 2) is None
    assert D.lar(T, 0x83, 0) is None  # RPL 3 > DPL 1
    assert D.lar(T, 0x2B, 3) == 0x00C09E00  # conforming code skips the check
    assert D.lsl(T, 0x2B, 3) == 0xFFFFFFFF
    assert D.lar(T, 0x20, 3) is None  # system descriptors do not skip it
    assert D.lar(T, 0x53, 3) is not None  # DPL 3 call gate


def test_lsl_granularity() -> None:
    assert D.lsl(T, 0x08, 0) == 0xFFFFFFFF
    assert D.lsl(T, 0x18, 0) == 0xFFFF
    assert D.lsl(T, 0x98, 0) == 0xFFFFF  # byte granular


# -- VERR / VERW ---------------------------------------------------------------------------------
def test_verr_verw_types() -> None:
    assert D.verr(T, 0x10, 0) and D.verw(T, 0x10, 0)
    assert D.verr(T, 0x08, 0) and not D.verw(T, 0x08, 0)
    assert D.verr(T, 0x40, 0) and not D.verw(T, 0x40, 0)  # read-only data
    assert not D.verr(T, 0x38, 0)  # execute-only code
    for sel in (0x20, 0x50, 0x60):  # system descriptors
        assert not D.verr(T, sel, 0) and not D.verw(T, sel, 0)


def test_verr_verw_null_and_limits() -> None:
    for sel in (0, 3, BEYOND, 0x14):
        assert not D.verr(T, sel, 0) and not D.verw(T, sel, 0)


def test_verr_verw_privilege() -> None:
    assert not D.verr(T, 0x10, 3) and not D.verw(T, 0x10, 3)
    assert not D.verw(T, 0x13, 0)  # RPL 3 > DPL 0
    assert D.verr(T, 0x1B, 3) and D.verw(T, 0x1B, 3)
    assert D.verr(T, 0x2B, 3)  # conforming readable code from CPL 3
    assert D.verr(T, 0x30, 0) and D.verw(T, 0x30, 0)  # presence is not checked
    assert D.verw(T, 0x04, 3)  # LDT data, DPL 3


# -- segment loads -------------------------------------------------------------------------------
def test_null_selector_loads() -> None:
    for seg in ("ds", "es", "fs", "gs"):
        assert D.check_segment_load(T, 0, seg, 3) == (None, None)
        assert D.check_segment_load(T, 3, seg, 3) == (None, None)
    assert D.check_segment_load(T, 0, "ss", 0) == (None, D.Fault(13, 0))
    assert D.check_segment_load(T, 3, "ss", 3) == (None, D.Fault(13, 0))


def test_data_segment_loads() -> None:
    ok = D.check_segment_load(T, 0x10, "ds", 0)
    assert ok == (D.decode(GDT[0x10]), None)
    assert D.check_segment_load(T, 0x08, "es", 0)[0] is not None  # readable code
    assert D.check_segment_load(T, 0x40, "fs", 0)[0] is not None  # read-only data
    assert D.check_segment_load(T, 0x07, "gs", 3)[0] is not None  # LDT code, DPL 3


@pytest.mark.parametrize(
    ("sel", "cpl", "fault"),
    [
        (BEYOND, 0, D.Fault(13, BEYOND)),
        (BEYOND | 3, 0, D.Fault(13, BEYOND)),  # RPL is not in the error code
        (0x14, 0, D.Fault(13, 0x14)),  # beyond the LDT (TI kept in the error code)
        (0x38, 0, D.Fault(13, 0x38)),  # execute-only code
        (0x20, 0, D.Fault(13, 0x20)),  # a TSS
        (0x50, 0, D.Fault(13, 0x50)),  # a call gate
        (0x10, 3, D.Fault(13, 0x10)),  # DPL 0 < CPL 3
        (0x13, 0, D.Fault(13, 0x10)),  # DPL 0 < RPL 3
        (0x08, 3, D.Fault(13, 0x08)),  # non-conforming code, DPL 0 < CPL 3
        (0x30, 0, D.Fault(11, 0x30)),  # not present: #NP after the other checks
        (0x33, 0, D.Fault(13, 0x30)),  # not present and RPL too weak: #GP first
    ],
)
def test_data_segment_load_faults(sel: int, cpl: int, fault: D.Fault) -> None:
    assert D.check_segment_load(T, sel, "ds", cpl) == (None, fault)


def test_conforming_code_loads_into_data_registers_from_any_level() -> None:
    assert D.check_segment_load(T, 0x2B, "ds", 3)[0] is not None
    assert D.check_segment_load(T, 0x8B, "es", 3)[0] is not None


def test_stack_segment_loads() -> None:
    assert D.check_segment_load(T, 0x10, "ss", 0)[0] is not None
    assert D.check_segment_load(T, 0x1B, "ss", 3)[0] is not None
    assert D.check_segment_load(T, 0x81, "ss", 1)[0] is not None


@pytest.mark.parametrize(
    ("sel", "cpl", "fault"),
    [
        (BEYOND, 0, D.Fault(13, BEYOND)),
        (0x40, 0, D.Fault(13, 0x40)),  # read-only data
        (0x08, 0, D.Fault(13, 0x08)),  # code
        (0x20, 0, D.Fault(13, 0x20)),  # system
        (0x11, 0, D.Fault(13, 0x10)),  # RPL 1 != CPL 0
        (0x18, 0, D.Fault(13, 0x18)),  # DPL 3 != CPL 0 (even though more privileged)
        (0x13, 3, D.Fault(13, 0x10)),  # DPL 0 != CPL 3
        (0x30, 0, D.Fault(12, 0x30)),  # not present: #SS
    ],
)
def test_stack_segment_load_faults(sel: int, cpl: int, fault: D.Fault) -> None:
    assert D.check_segment_load(T, sel, "ss", cpl) == (None, fault)


def test_segment_load_of_cs_is_a_bug() -> None:
    with pytest.raises(InternalError):
        D.check_segment_load(T, 0x08, "cs", 0)


# -- far transfers -------------------------------------------------------------------------------
def test_far_transfer_to_nonconforming_code() -> None:
    assert D.check_code_far_transfer(T, 0x08, 0) == (D.decode(GDT[0x08]), None)
    assert D.check_code_far_transfer(T, 0x4B, 3)[0] is not None
    assert D.check_code_far_transfer(T, 0x48, 3)[0] is not None  # RPL 0 < CPL 3 is fine
    assert D.check_code_far_transfer(T, 0x0B, 0) == (None, D.Fault(13, 0x08))  # RPL > CPL
    assert D.check_code_far_transfer(T, 0x08, 3) == (None, D.Fault(13, 0x08))  # DPL != CPL
    assert D.check_code_far_transfer(T, 0x48, 0) == (None, D.Fault(13, 0x48))  # DPL != CPL


def test_far_transfer_to_conforming_code() -> None:
    assert D.check_code_far_transfer(T, 0x28, 3)[0] is not None  # DPL 0 <= CPL 3
    assert D.check_code_far_transfer(T, 0x2B, 0)[0] is not None  # RPL is ignored
    assert D.check_code_far_transfer(T, 0x88, 3)[0] is not None
    assert D.check_code_far_transfer(T, 0x88, 1) == (None, D.Fault(13, 0x88))  # DPL 2 > CPL 1


@pytest.mark.parametrize(
    ("sel", "fault"),
    [
        (0, D.Fault(13, 0)),
        (3, D.Fault(13, 0)),
        (BEYOND, D.Fault(13, BEYOND)),
        (0x14, D.Fault(13, 0x14)),
        (0x10, D.Fault(13, 0x10)),  # data
        (0x78, D.Fault(11, 0x78)),  # not present
        (0x60, D.Fault(13, 0x60)),  # LDT
        (0x68, D.Fault(13, 0x68)),  # interrupt gate
        (0x70, D.Fault(13, 0x70)),  # busy TSS
        (0x90, D.Fault(11, 0x90)),  # call gate, not present
    ],
)
def test_far_transfer_faults(sel: int, fault: D.Fault) -> None:
    assert D.check_code_far_transfer(T, sel, 0) == (None, fault)


def test_far_transfer_through_gates_and_tss() -> None:
    assert D.check_code_far_transfer(T, 0x50, 3) == (None, None)  # call gate: caller's job
    assert D.check_code_far_transfer(T, 0x58, 0) == (None, None)  # task gate
    assert D.check_code_far_transfer(T, 0x20, 0) == (None, None)  # available TSS
    assert D.check_code_far_transfer(T, 0x58, 3) == (None, D.Fault(13, 0x58))  # gate DPL 0
    assert D.check_code_far_transfer(T, 0x23, 0) == (None, D.Fault(13, 0x20))  # RPL 3 > DPL


def test_far_transfer_offset_beyond_limit() -> None:
    assert D.check_code_far_transfer(T, 0x98, 0, 0xFFFFF)[0] is not None
    assert D.check_code_far_transfer(T, 0x98, 0, 0x100000) == (None, D.Fault(13, 0))
    call = D.check_code_far_transfer(T, 0x98, 0, 0x100000, is_call=True)
    assert call == (None, D.Fault(13, 0x98))  # QEMU's error code for CALL (the SDM says 0)
