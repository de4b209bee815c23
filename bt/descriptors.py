"""Protected-mode segment descriptors: decoding, and the checks of LAR/LSL/VERR/VERW, segment loads
and far transfers, as pure functions over the guest's descriptor tables.

The reference is QEMU 7.2's target/i386/tcg/seg_helper.c (helper_lar, helper_lsl, helper_verr,
helper_verw, helper_load_seg, helper_ljmp_protected, helper_lcall_protected), which follows the
Intel SDM (vol. 2, LAR/LSL/VERR/VERW/MOV/JMP/CALL/RET) except where noted:

- LAR with a 32-bit operand: the SDM gives dword 2 masked by 00FxFF00H, bits 19:16 (limit 19:16)
  undefined; QEMU returns dword 2 & 0x00F0FF00, zeroing them (measured: a descriptor with limit
  19:16 = 0xF gives 0x00F0F200). Bochs keeps them (& 0x00FFFF00). We follow QEMU. With a 16-bit
  operand the caller keeps the low 16 bits (& 0xFF00) and leaves the register's upper half.
- A far CALL whose offset lies beyond the new CS limit: the SDM says #GP(0); QEMU raises
  #GP(new CS selector), and only after the pushes (which can fault first). A far JMP gives
  #GP(0) in both.

A selector is null when its index and TI are 0 (0x0000-0x0003); 0x0004 names LDT entry 0.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

from bt.errors import InternalError

# Exception vectors the checks raise.
NP = 11  # segment not present
SS = 12  # stack-segment fault
GP = 13  # general protection

ATTR_MASK = 0x00F0FF00  # dword 2 without base and limit bits: what LAR returns (QEMU)

# System descriptor types (S=0) in 32-bit protected mode.
TSS16_AVAIL, LDT, TSS16_BUSY, CALL_GATE16, TASK_GATE = 1, 2, 3, 4, 5
TSS32_AVAIL, TSS32_BUSY, CALL_GATE32 = 9, 11, 12

# Which system types LAR and LSL accept (the SDM's type tables under LAR and LSL): gates have
# access rights but no limit; interrupt and trap gates are valid for neither.
LAR_SYSTEM_TYPES = frozenset({1, 2, 3, 4, 5, 9, 11, 12})
LSL_SYSTEM_TYPES = frozenset({1, 2, 3, 9, 11})

DATA_SEGMENT_REGISTERS = frozenset({"ds", "es", "fs", "gs"})


@dataclass(frozen=True, slots=True)
class Fault:
    """An exception a check raises: vector and error code."""

    vector: int
    error_code: int | None


@dataclass(frozen=True, slots=True)
class Descriptor:
    """One 8-byte descriptor, decoded."""

    raw: int  # the 8 bytes as a little-endian 64-bit value
    base: int
    limit: int  # in bytes, granularity applied
    type: int  # 4-bit type field
    s: bool  # code/data (True) or system (False)
    dpl: int
    present: bool
    avl: bool
    l: bool  # noqa: E741 - the SDM's name for the 64-bit code flag
    db: bool
    g: bool

    @property
    def attr(self) -> int:
        """Dword 2 masked with 0x00F0FF00: what LAR returns (QEMU) and a segment cache holds."""
        return (self.raw >> 32) & ATTR_MASK

    @property
    def is_code(self) -> bool:
        """A code segment."""
        return self.s and bool(self.type & 8)

    @property
    def is_data(self) -> bool:
        """A data segment."""
        return self.s and not self.type & 8

    @property
    def readable(self) -> bool:
        """Data segments always; code segments with the R bit."""
        return self.is_data or (self.is_code and bool(self.type & 2))

    @property
    def writable(self) -> bool:
        """Data segments with the W bit."""
        return self.is_data and bool(self.type & 2)

    @property
    def conforming(self) -> bool:
        """A conforming code segment."""
        return self.is_code and bool(self.type & 4)

    @property
    def expand_down(self) -> bool:
        """A data segment whose valid offsets lie above the limit."""
        return self.is_data and bool(self.type & 4)

    @property
    def accessed(self) -> bool:
        """The A bit of a code or data segment."""
        return self.s and bool(self.type & 1)


def decode(raw: bytes) -> Descriptor:
    """Decode 8 descriptor bytes."""
    lo, hi = struct.unpack("<II", raw)
    base = (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000)
    limit = (lo & 0xFFFF) | (hi & 0x000F0000)
    g = bool(hi & (1 << 23))
    if g:
        limit = (limit << 12) | 0xFFF
    return Descriptor(
        raw=lo | (hi << 32),
        base=base,
        limit=limit,
        type=(hi >> 8) & 0xF,
        s=bool(hi & (1 << 12)),
        dpl=(hi >> 13) & 3,
        present=bool(hi & (1 << 15)),
        avl=bool(hi & (1 << 20)),
        l=bool(hi & (1 << 21)),
        db=bool(hi & (1 << 22)),
        g=g,
    )


class DescriptorTables(Protocol):
    """The guest's GDT and LDT as the checks read them.

    `ldt_limit` is None when LDTR is null; a limit of 0 works too, since no 8-byte entry fits
    (QEMU's LLDT of a null selector sets the limit to 0).
    """

    @property
    def gdt_base(self) -> int: ...
    @property
    def gdt_limit(self) -> int: ...
    @property
    def ldt_base(self) -> int: ...
    @property
    def ldt_limit(self) -> int | None: ...

    def read(self, linear_addr: int, size: int) -> bytes:
        """Guest memory at a linear address."""
        ...


def is_null(selector: int) -> bool:
    """Index 0 in the GDT, whatever the RPL."""
    return selector & 0xFFFC == 0


def fetch_descriptor(tables: DescriptorTables, selector: int) -> Descriptor | None:
    """The descriptor `selector` names, None when it lies beyond its table's limit (or TI=1
    with no LDT). The null selector fetches GDT entry 0; callers check for null first."""
    index = selector & 0xFFF8
    if selector & 4:
        limit = tables.ldt_limit
        if limit is None:
            return None
        base = tables.ldt_base
    else:
        base, limit = tables.gdt_base, tables.gdt_limit
    if index + 7 > limit:
        return None
    return decode(tables.read((base + index) & 0xFFFFFFFF, 8))


def _privilege_ok(desc: Descriptor, selector: int, cpl: int) -> bool:
    """DPL >= CPL and DPL >= RPL: the check LAR/LSL/VERR/VERW and data loads make."""
    return desc.dpl >= cpl and desc.dpl >= (selector & 3)


def _inspectable(
    tables: DescriptorTables, selector: int, cpl: int, system_types: frozenset[int]
) -> Descriptor | None:
    """The checks LAR and LSL share; None means ZF=0."""
    if is_null(selector):
        return None
    desc = fetch_descriptor(tables, selector)
    if desc is None:
        return None
    if not desc.s and desc.type not in system_types:
        return None
    if not desc.conforming and not _privilege_ok(desc, selector, cpl):
        return None
    return desc


def lar(tables: DescriptorTables, selector: int, cpl: int) -> int | None:
    """LAR: dword 2 & 0x00F0FF00 for a 32-bit operand, or None (ZF=0, destination kept)."""
    desc = _inspectable(tables, selector, cpl, LAR_SYSTEM_TYPES)
    return None if desc is None else desc.attr


def lsl(tables: DescriptorTables, selector: int, cpl: int) -> int | None:
    """LSL: the byte-granular limit, or None (ZF=0, destination kept)."""
    desc = _inspectable(tables, selector, cpl, LSL_SYSTEM_TYPES)
    return None if desc is None else desc.limit


def verr(tables: DescriptorTables, selector: int, cpl: int) -> bool:
    """VERR: a readable code or data segment reachable from CPL and RPL (presence unchecked)."""
    if is_null(selector):
        return False
    desc = fetch_descriptor(tables, selector)
    if desc is None or not desc.readable:
        return False
    return desc.conforming or _privilege_ok(desc, selector, cpl)


def verw(tables: DescriptorTables, selector: int, cpl: int) -> bool:
    """VERW: a writable data segment reachable from CPL and RPL (presence unchecked)."""
    if is_null(selector):
        return False
    desc = fetch_descriptor(tables, selector)
    if desc is None or not desc.writable:
        return False
    return _privilege_ok(desc, selector, cpl)


def check_segment_load(
    tables: DescriptorTables, selector: int, seg: str, cpl: int
) -> tuple[Descriptor | None, Fault | None]:
    """The checks of MOV/POP/LxS to DS/ES/FS/GS or SS (SDM, MOV; QEMU helper_load_seg).

    Returns (descriptor, None) on success, (None, None) for a null selector in a data segment
    register (which loads a null segment), or (None, fault).
    """
    if seg != "ss" and seg not in DATA_SEGMENT_REGISTERS:
        raise InternalError(f"segment load checks asked for {seg!r}")
    err = selector & 0xFFFC
    if is_null(selector):
        return (None, Fault(GP, 0)) if seg == "ss" else (None, None)
    desc = fetch_descriptor(tables, selector)
    if desc is None:
        return None, Fault(GP, err)
    rpl = selector & 3
    if seg == "ss":
        if not desc.writable or rpl != cpl or desc.dpl != cpl:
            return None, Fault(GP, err)
        if not desc.present:
            return None, Fault(SS, err)
        return desc, None
    if not desc.readable:  # system segments and execute-only code
        return None, Fault(GP, err)
    if not desc.conforming and not _privilege_ok(desc, selector, cpl):
        return None, Fault(GP, err)
    if not desc.present:
        return None, Fault(NP, err)
    return desc, None


def check_code_far_transfer(
    tables: DescriptorTables,
    selector: int,
    cpl: int,
    offset: int | None = None,
    *,
    is_call: bool = False,
) -> tuple[Descriptor | None, Fault | None]:
    """The CS checks of a far JMP/CALL (and a far RET whose RPL equals CPL) to a code segment
    at the same privilege (SDM, JMP/CALL; QEMU helper_ljmp/lcall_protected).

    Returns (descriptor, None) on success; (None, fault); or (None, None) for a call gate, task
    gate or available TSS that passed its own DPL and presence checks: the transfer goes
    through it, which these checks do not cover. With `offset`, an offset beyond the new limit
    faults too: #GP(0) for JMP, #GP(selector) for CALL as QEMU (the SDM says #GP(0)).
    """
    err = selector & 0xFFFC
    if is_null(selector):
        return None, Fault(GP, 0)
    desc = fetch_descriptor(tables, selector)
    if desc is None:
        return None, Fault(GP, err)
    if not desc.s:
        return None, _check_gate(desc, selector, cpl)
    if not desc.is_code:
        return None, Fault(GP, err)
    if desc.conforming:
        if desc.dpl > cpl:
            return None, Fault(GP, err)
    elif (selector & 3) > cpl or desc.dpl != cpl:
        return None, Fault(GP, err)
    if not desc.present:
        return None, Fault(NP, err)
    if offset is not None and offset > desc.limit:
        return None, Fault(GP, err if is_call else 0)
    return desc, None


def _check_gate(desc: Descriptor, selector: int, cpl: int) -> Fault | None:
    """A system descriptor named by a far JMP/CALL: only gates and available TSSs pass."""
    err = selector & 0xFFFC
    if desc.type not in (CALL_GATE16, CALL_GATE32, TASK_GATE, TSS16_AVAIL, TSS32_AVAIL):
        return Fault(GP, err)  # busy TSS, LDT, interrupt/trap gate, reserved
    if not _privilege_ok(desc, selector, cpl):
        return Fault(GP, err)
    if not desc.present:
        return Fault(NP, err)
    return None
