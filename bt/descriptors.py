"""Protected-mode segment descriptors: decoding, and the checks of LAR/LSL/VERR/VERW, segment loads
and far transfers, as pure functions over the guest's descriptor tables."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Fault:
    """An exception a check raises: vector and error code."""

    vector: int
    error_code: int | None


@dataclass(frozen=True, slots=True)
class Descriptor:
    """One 8-byte descriptor, decoded."""

    raw: int
    base: int
    limit: int  # in bytes, granularity applied
    type: int  # 4-bit type field
    s: bool  # code/data (True) or system (False)
    dpl: int
    present: bool
    db: bool
    g: bool

    @property
    def attr(self) -> int:
        """Dword 2 masked with 0x00F0FF00: what LAR returns and QEMU logs as flags."""
        return (self.raw >> 32) & 0x00F0FF00

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
        db=bool(hi & (1 << 22)),
        g=g,
    )


class DescriptorTables(Protocol):
    """The guest's GDT and LDT as the checks read them."""

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


def fetch_descriptor(tables: DescriptorTables, selector: int) -> Descriptor | None:
    """The descriptor `selector` names, None when it lies beyond its table's limit."""
    index = selector & ~7
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


# System types LAR accepts (16-bit and 32-bit TSS, LDT, call and task gates) and LSL accepts.
_LAR_SYSTEM = frozenset({1, 2, 3, 4, 5, 9, 11, 12})
_LSL_SYSTEM = frozenset({1, 2, 3, 9, 11})


def _visible(desc: Descriptor, selector: int, cpl: int) -> bool:
    """The DPL check of LAR/LSL/VERR/VERW (skipped for conforming code)."""
    if desc.conforming:
        return True
    return desc.dpl >= cpl and desc.dpl >= (selector & 3)


def lar(tables: DescriptorTables, selector: int, cpl: int) -> int | None:
    """LAR: the access rights (dword 2 & 0x00F0FF00, as QEMU), or None (ZF=0)."""
    if selector & ~3 == 0:
        return None
    desc = fetch_descriptor(tables, selector)
    if desc is None or (not desc.s and desc.type not in _LAR_SYSTEM):
        return None
    if not _visible(desc, selector, cpl):
        return None
    return desc.attr


def lsl(tables: DescriptorTables, selector: int, cpl: int) -> int | None:
    """LSL: the byte-granular limit, or None (ZF=0)."""
    if selector & ~3 == 0:
        return None
    desc = fetch_descriptor(tables, selector)
    if desc is None or (not desc.s and desc.type not in _LSL_SYSTEM):
        return None
    if not _visible(desc, selector, cpl):
        return None
    return desc.limit


def verr(tables: DescriptorTables, selector: int, cpl: int) -> bool:
    """VERR: a readable segment reachable from CPL and RPL."""
    if selector & ~3 == 0:
        return False
    desc = fetch_descriptor(tables, selector)
    if desc is None or not desc.s or not desc.readable:
        return False
    return _visible(desc, selector, cpl)


def verw(tables: DescriptorTables, selector: int, cpl: int) -> bool:
    """VERW: a writable data segment reachable from CPL and RPL."""
    if selector & ~3 == 0:
        return False
    desc = fetch_descriptor(tables, selector)
    if desc is None or not desc.writable:
        return False
    return desc.dpl >= cpl and desc.dpl >= (selector & 3)


def check_segment_load(
    tables: DescriptorTables, selector: int, seg: str, cpl: int
) -> tuple[Descriptor | None, Fault | None]:
    """The checks of MOV/POP/LxS to a data segment register or SS (Intel SDM, MOV)."""
    err = selector & 0xFFFC
    if selector & ~3 == 0:
        if seg == "ss":
            return None, Fault(13, 0)
        return None, None
    desc = fetch_descriptor(tables, selector)
    if desc is None:
        return None, Fault(13, err)
    if seg == "ss":
        rpl = selector & 3
        if rpl != cpl or not desc.writable or desc.dpl != cpl:
            return None, Fault(13, err)
        if not desc.present:
            return None, Fault(12, err)
        return desc, None
    if not desc.readable:
        return None, Fault(13, err)
    privileged = desc.dpl < cpl or desc.dpl < (selector & 3)
    if (desc.is_data or not desc.conforming) and privileged:
        return None, Fault(13, err)
    if not desc.present:
        return None, Fault(11, err)
    return desc, None


def check_code_far_transfer(
    tables: DescriptorTables, selector: int, cpl: int
) -> tuple[Descriptor | None, Fault | None]:
    """Far JMP/CALL/RET to a code segment at the same privilege; (None, None) for a gate."""
    err = selector & 0xFFFC
    if selector & ~3 == 0:
        return None, Fault(13, 0)
    desc = fetch_descriptor(tables, selector)
    if desc is None:
        return None, Fault(13, err)
    if not desc.s:
        if desc.type in (4, 5, 12, 9, 1):  # call gate, task gate, TSS: not virtualized yet
            return None, None
        return None, Fault(13, err)
    if not desc.is_code:
        return None, Fault(13, err)
    if desc.conforming:
        if desc.dpl > cpl:
            return None, Fault(13, err)
    elif (selector & 3) > cpl or desc.dpl != cpl:
        return None, Fault(13, err)
    if not desc.present:
        return None, Fault(11, err)
    return desc, None
