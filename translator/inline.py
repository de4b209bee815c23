"""Inline emulation: sensitive instructions rewritten into safe code that needs no monitor entry.

Each form reads virtual state that is either built into the code (selectors, CR0, GDTR, IDTR:
see translator/bake.py) or held by the real CPU: the real IF is the guest's virtual IF, so CLI
and STI run as they are at the real CPL 0; PUSHF shows the virtual IOPL in place of the real
one (which means nothing at CPL 0); POPF runs as it is when the popped image changes nothing
the monitor must see, and calls the monitor otherwise. None of the forms writes guest memory
or flags the guest would not.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bt.translator.bake import Bake, table_value
from bt.translator.insn import GuestInsn, MemOp, RegOp
from bt.translator.modrm import SEG_PREFIX, encodable, modrm

# EFLAGS bits (kept here: the translator does not import the monitor).
_TF, _IF, _IOPL, _NT, _AC, _ID = 1 << 8, 1 << 9, 3 << 12, 1 << 14, 1 << 18, 1 << 21
_SREG = {1: "cs", 2: "ss"}
_SEGS = frozenset(
    ("es", "cs", "ss", "ds", "fs", "gs")
)  # MOV r/m, Sreg reg-field values whose selector is baked


@dataclass(frozen=True, slots=True)
class Inline:
    """Inline code for one instruction; `resume` is the offset after its embedded callout (the
    slow path back to the monitor) when it has one."""

    code: bytes
    resume: int | None = None
    assumes: tuple[tuple[str, int], ...] = ()


def emulate(insn: GuestInsn, kind: str, bake: Bake, callout: bytes, last: bool) -> Inline | None:
    """The inline form of `insn` (callout kind `kind`), or None when it needs the monitor.
    `last` says the block ends right after it without another instruction."""
    i = len(insn.prefixes)
    if bake.native_segs and _native_segment(insn, kind, bake):
        return Inline(insn.raw)  # real mode: base = selector * 16, as the real CPU loads it
    extra = [p for p in insn.prefixes if p not in SEG_PREFIX and p != 0x66]
    if extra:
        return None  # LOCK, REP, address size: rare, and the monitor knows their rules
    if kind == "cli" and bake.flags:
        return Inline(b"\xfa")
    if kind == "sti" and bake.flags and not bake.trap_if and not last:
        # Under STI's one-instruction shadow the monitor must not look at the next boundary
        # before the next instruction has run: a block never ends right after a native STI.
        return Inline(b"\xfb")
    if kind == "pushf" and bake.flags and insn.opsize == 4:
        return Inline(_pushf(bake))
    if kind == "popf" and bake.flags and insn.opsize == 4:
        return _popf(bake, callout)
    if kind == "mov_from_seg":
        return _mov_from_seg(insn, i, bake)
    if kind == "push_seg" and insn.opsize == 4:
        sel = {0x0E: bake.cs_sel, 0x16: bake.ss_sel}.get(insn.raw[i])
        return None if sel is None else Inline(b"\x68" + struct.pack("<I", sel))
    if kind in ("sgdt", "sidt"):
        return _store_table(insn, kind, bake)
    if kind == "smsw":
        return _smsw(insn, i, bake)
    if kind == "fxsave":
        return _fxsave(insn)
    if kind == "mov_from_cr" and bake.cpl0 and insn.raw[i : i + 2] == b"\x0f\x20":
        # At CPL 0 the real CR2 and DR3 hold the guest's CR2 and CR3 whenever translated code
        # runs (bt/engine.py `sync_control`; the real debug registers are otherwise unused,
        # breakpoints being virtual): a #PF handler's reads of them need no monitor entry.
        cr = (insn.raw[i + 2] >> 3) & 7
        if cr == 2:
            return Inline(insn.raw)
        if cr == 3:
            return Inline(insn.raw[:i] + b"\x0f\x21" + insn.raw[i + 2 :])  # MOV r32, DR3
    return None


_FAR_LOADS = {"lds": "ds", "les": "es", "lfs": "fs", "lgs": "gs"}


def _native_segment(insn: GuestInsn, kind: str, bake: Bake) -> bool:
    """A load or read of a data segment register the real CPU holds as the guest's."""
    if kind == "load_far_ptr":
        # Not through CS: the real CS is the monitor's (its callout reads the guest's CS).
        seg = _FAR_LOADS.get(insn.mnemonic)
        return seg is not None and bake.native(seg) and 0x2E not in insn.prefixes
    if kind not in ("mov_to_seg", "mov_from_seg", "push_seg", "pop_seg"):
        return False
    regs = [op.name for op in insn.operands if isinstance(op, RegOp) and op.name in _SEGS]
    return len(regs) == 1 and bake.native(regs[0])


def _pushf(bake: Bake) -> bytes:
    # The image shows the real IOPL, whatever the last native POPFD left: put the virtual one
    # in its place, load the flags from the image (the AND/OR changed the arithmetic ones; at
    # CPL 0 the POPFD gives back everything else as it was, the IOPL becoming the virtual
    # one) and push them again. Nothing below ESP is written, as on a PC.
    code = b"\x9c" + b"\x81\x24\x24" + struct.pack("<I", ~_IOPL & 0xFFFFFFFF)  # and [esp], ~IOPL
    if bake.iopl:
        code += b"\x81\x0c\x24" + struct.pack("<I", bake.iopl << 12)  # or [esp], iopl << 12
    return code + b"\x9d\x9c"  # popfd; pushfd


def _popf(bake: Bake, callout: bytes) -> Inline:
    # The flags are dead until POPFD loads them, so the popped image may be tested first.
    # Bits that must be clear: the ones the real CPU would take that are virtual (TF, NT,
    # AC, ID), IF when setting it must reach the monitor, and a changed IOPL at CPL 0.
    zero = _TF | _NT | _AC | _ID
    ones = 0
    if bake.trap_if:
        zero |= _IF
    if bake.cpl0:
        ones = bake.iopl << 12
        zero |= _IOPL & ~ones
    tests = [(zero, 0x75)]  # test [esp], zero; jnz slow
    tests += [(bit, 0x74) for bit in (1 << 12, 1 << 13) if ones & bit]  # jz slow
    slow = 9 * len(tests) + 3
    code = bytearray()
    for mask, jcc in tests:
        code += b"\xf7\x04\x24" + struct.pack("<I", mask)
        code += bytes((jcc, slow - (len(code) + 2)))
    code += b"\x9d"  # popfd
    code += bytes((0xEB, len(callout)))  # jmp over the slow path
    code += callout
    return Inline(bytes(code), resume=len(code))


def _mov_from_seg(insn: GuestInsn, i: int, bake: Bake) -> Inline | None:
    raw = insn.raw
    if raw[i] != 0x8C or len(raw) < i + 2:
        return None
    m = raw[i + 1]
    name = _SREG.get((m >> 3) & 7)
    if name is None:
        return None
    sel = bake.cs_sel if name == "cs" else bake.ss_sel
    if m >> 6 == 3:
        # A 32-bit register gets the selector zero-extended (as QEMU), a 16-bit one 16 bits.
        if insn.opsize == 2:
            return Inline(b"\x66" + bytes((0xB8 | m & 7,)) + struct.pack("<H", sel))
        return Inline(bytes((0xB8 | m & 7,)) + struct.pack("<I", sel))
    # Memory always gets 16 bits: MOV r/m16, imm16 with the same operand bytes. (A CS
    # override would write through the real CS, a code segment: left to the monitor.)
    if 0x2E in insn.prefixes:
        return None
    prefixes = bytes(p for p in insn.prefixes if p != 0x66)
    return Inline(
        prefixes + b"\x66\xc7" + bytes((m & 0xC7,)) + raw[i + 2 :] + struct.pack("<H", sel)
    )


def _store_table(insn: GuestInsn, kind: str, bake: Bake) -> Inline | None:
    op = insn.operands[0] if insn.operands else None
    if not isinstance(op, MemOp) or not encodable(op) or 0x2E in insn.prefixes:
        return None
    reg = bake.gdtr if kind == "sgdt" else bake.idtr
    base, limit = reg
    if insn.opsize == 2:
        base &= 0xFFFFFF  # 16-bit operand size stores a 24-bit base (QEMU and the SDM agree)
    seg = bytes(p for p in insn.prefixes if p in SEG_PREFIX)
    code = (
        seg
        + b"\x66\xc7"
        + modrm(0, op)
        + struct.pack("<H", limit)
        + seg
        + b"\xc7"
        + modrm(0, op, 2)
        + struct.pack("<I", base)
    )
    return Inline(code, assumes=(("gdtr" if kind == "sgdt" else "idtr", table_value(reg)),))


def _smsw(insn: GuestInsn, i: int, bake: Bake) -> Inline | None:
    raw = insn.raw
    if raw[i : i + 2] != b"\x0f\x01" or len(raw) < i + 3:
        return None
    m = raw[i + 2]
    assumes = (("cr0", bake.cr0),)
    if m >> 6 == 3:
        # A 32-bit register gets all of CR0 (QEMU, current CPUs).
        if insn.opsize == 2:
            return Inline(
                b"\x66" + bytes((0xB8 | m & 7,)) + struct.pack("<H", bake.cr0 & 0xFFFF),
                assumes=assumes,
            )
        return Inline(bytes((0xB8 | m & 7,)) + struct.pack("<I", bake.cr0), assumes=assumes)
    if 0x2E in insn.prefixes:
        return None
    prefixes = bytes(p for p in insn.prefixes if p != 0x66)
    return Inline(
        prefixes
        + b"\x66\xc7"
        + bytes((m & 0xC7,))
        + raw[i + 3 :]
        + struct.pack("<H", bake.cr0 & 0xFFFF),
        assumes=assumes,
    )


def _fxsave(insn: GuestInsn) -> Inline | None:
    """FXSAVE copied, then the one pointer field Unicorn fills (FIP, a translation-cache
    address) zeroed, as QEMU 7.2 stores all four; the MOV touches no flags, and cannot fault
    where FXSAVE has just written."""
    op = insn.operands[0] if insn.operands else None
    if not isinstance(op, MemOp) or not encodable(op) or 0x2E in insn.prefixes:
        return None
    seg = bytes(p for p in insn.prefixes if p in SEG_PREFIX)
    return Inline(insn.raw + seg + b"\xc7" + modrm(0, op, 8) + bytes(4))
