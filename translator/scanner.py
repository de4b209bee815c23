"""Decodes one guest basic block with Capstone, reading guest bytes through a narrow Protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import capstone
from capstone import x86_const as X

from bt.translator.csaccess import segment_of
from bt.translator.features import FeatureGate
from bt.translator.insn import GuestInsn, ImmOp, MemOp, Operand, RegOp
from bt.translator.mode16 import to32
from bt.translator.records import Rule, Sensitivity
from bt.translator.sensitive import (
    ABSENT,
    BIOS_ENTRY,
    COPY,
    JCC_IDS,
    REP_BITSCAN,
    classify,
    needs_detail,
)

MAX_BLOCK_INSNS = 64
_PAGE = 0x1000
MAX_INSN_LEN = 15  # longer (redundant prefixes) is #GP(0): Intel SDM vol. 3 6.15, QEMU 7.2


class CodeSource(Protocol):
    """Guest code bytes as the translator may read them (no side effects, no faults)."""

    def fetch_code(self, linear: int, size: int) -> bytes:
        """Up to `size` bytes at guest-linear `linear`; fewer where guest memory ends."""
        ...


@dataclass(frozen=True, slots=True)
class ScannedBlock:
    """The guest instructions of one block and why the block ends where it does."""

    insns: tuple[GuestInsn, ...]
    end_reason: str  # "branch", "callout-exit", "limit", "undecodable", "too-long", "page"
    bad_eip: int | None  # the undecodable or too long instruction's offset
    rules: tuple[Sensitivity, ...] = ()  # classify() of each instruction, made while scanning


class Scanner:
    """Capstone decoder for guest code: 32-bit, or 16-bit carried as its 32-bit form."""

    WINDOW = 128
    BATCH = 12  # instructions decoded per call: most blocks are shorter

    def __init__(self, gate: FeatureGate | None = None) -> None:
        self._gate = gate  # the instructions the CPU model lacks (None: every one is there)
        self._cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
        self._cs.detail = True
        self._lite = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
        self._lite16 = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_16)
        self.decoded = 0
        self.detailed = 0

    def decode(self, raw: bytes, eip: int, linear: int) -> GuestInsn | None:
        """One instruction with all its operands (None: not an instruction)."""
        decoded = next(self._cs.disasm(raw, eip, 1), None)
        return None if decoded is None else _convert(decoded, linear)

    def scan(
        self,
        code: CodeSource,
        cs_base: int,
        eip: int,
        max_insns: int = MAX_BLOCK_INSNS,
        paged: bool = False,
        stops: frozenset[int] = frozenset(),
        code16: bool = False,
        split_stores: bool = False,
        services: Mapping[int, int] | None = None,
    ) -> ScannedBlock:
        """Decode from `eip` to the end of the block (control flow, exit callout or limit).

        Capstone's light decoder runs once per window of guest bytes (one C call for many
        instructions); only instructions that may be sensitive are decoded again with detail.
        `paged` (guest paging on): the block ends at the end of its linear page, and an
        instruction that straddles into the next page is a block of its own, fetched across
        the boundary only then (so its #PF comes exactly when it is reached). `stops`: linear
        addresses the block ends before (instruction breakpoints: a block starts at each).
        `code16`: a 16-bit code segment (real mode, 16-bit protected mode): each instruction
        is decoded as 16-bit code and carried as its 32-bit form (translator/mode16.py),
        its guest bytes in `GuestInsn.guest`; direct branch targets wrap at 64 KiB unless
        the operand size is 32 bits. `split_stores`: the block ends after each instruction
        that may write memory (a self-checking block's page is writable: the next block's
        check then sees a write into the code that follows, translator/selfcheck.py).
        `services`: linear addresses of BIOS service entries (their vector): a block starting
        at one is that entry's callout (translator/sensitive.py BIOS_ENTRY), and other blocks
        end before them.
        """
        lite = self._lite16 if code16 else self._lite
        entry = (cs_base + eip) & 0xFFFFFFFF
        if services and entry in services:
            marker = GuestInsn(
                eip,
                entry,
                b"\x0f\x0b",
                X.X86_INS_UD2,
                "bios",
                f"{services[entry]:#04x}",
                (ImmOp(services[entry], 1),),
                (),
                2,
            )
            return ScannedBlock((marker,), "callout-exit", None, (BIOS_ENTRY,))
        if services:
            stops = stops | frozenset(services)
        insns: list[GuestInsn] = []
        rules: list[Sensitivity] = []
        cur = eip
        first_page = (cs_base + eip) & 0xFFFFF000
        across = False

        def done(reason: str, bad: int | None = None) -> ScannedBlock:
            return ScannedBlock(tuple(insns), reason, bad, tuple(rules))

        while True:
            linear = (cs_base + cur) & 0xFFFFFFFF
            want = self.WINDOW
            if paged:
                if insns and linear & 0xFFFFF000 != first_page:
                    return done("page")
                room = _PAGE - (linear & (_PAGE - 1))
                want = room + MAX_INSN_LEN if across else min(want, room)
            window = code.fetch_code(linear, want)
            used = 0
            for _addr, size, mnemonic, op_str in lite.disasm_lite(window, cur, self.BATCH):
                if paged and insns and (cs_base + cur) & 0xFFFFF000 != first_page:
                    return done("page")
                if used + size > len(window) - 15 and len(window) == self.WINDOW:
                    break  # may be cut at the window's end: decode it from a fresh window
                self.decoded += 1
                raw = bytes(window[used : used + size])
                guest = b""
                direct = _DIRECT.get(mnemonic)
                if code16:
                    guest = raw
                    raw = to32(raw, mnemonic, op_str, branch=direct is not None)
                lin = (cs_base + cur) & 0xFFFFFFFF
                if stops and insns and lin in stops:
                    return done("limit")
                gate = self._gate
                if gate is not None and gate.suspect(mnemonic, op_str):
                    decoded = next(self._cs.disasm(raw, cur, 1), None)
                    lacks = decoded is not None and gate.lacks(mnemonic, decoded.groups)
                    if decoded is not None and (lacks or gate.old_bitscan(mnemonic)):
                        self.detailed += 1
                        insn = _convert(decoded, lin, guest)
                        insns.append(insn)
                        rules.append(ABSENT if lacks else REP_BITSCAN)
                        used += size
                        cur = insn.next_eip
                        if len(insns) >= max_insns:
                            return done("limit")
                        continue
                if direct is not None and (op_str.startswith("0x") or code16 and op_str.isdigit()):
                    # A relative branch: its target is all the rewriter needs, and the light
                    # decoder already printed it (for 16-bit code, from the guest's encoding).
                    prefixes = _prefixes(raw)
                    opsize = 2 if 0x66 in prefixes else 4
                    target = int(op_str, 0) & (0xFFFF if opsize == 2 else 0xFFFFFFFF)
                    insn = GuestInsn(
                        cur,
                        lin,
                        raw,
                        direct,
                        mnemonic,
                        op_str,
                        (ImmOp(target, 4),),
                        prefixes,
                        opsize,
                        guest,
                    )
                elif needs_detail(mnemonic, op_str) or _cs_prefixed(raw):
                    self.detailed += 1
                    decoded = next(self._cs.disasm(raw, cur, 1), None)
                    if decoded is None:
                        return done(_bad(lite, window[used:]), cur)
                    insn = _convert(decoded, lin, guest)
                else:
                    # Cannot be sensitive (needs_detail said so): copied as it is.
                    insns.append(GuestInsn(cur, lin, raw, 0, mnemonic, op_str, (), (), 4, guest))
                    rules.append(COPY)
                    used += size
                    cur = (cur + size) & 0xFFFFFFFF
                    if len(insns) >= max_insns or split_stores and may_store(mnemonic, op_str):
                        return done("limit")
                    continue
                insns.append(insn)
                used += size
                sens = classify(insn)
                rules.append(sens)
                if sens.rule in (Rule.BRANCH, Rule.INDIRECT):
                    return done("branch")
                if sens.rule is Rule.EXIT:
                    return done("callout-exit")
                cur = insn.next_eip
                if len(insns) >= max_insns or split_stores and may_store(mnemonic, op_str):
                    return done("limit")
            if used == 0:
                if paged and want < self.WINDOW and not across:
                    if insns:
                        return done("page")  # the next instruction straddles: its own block
                    across = True
                    continue
                return done(_bad(lite, window), cur)


_NAMES = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
_DIRECT = {
    _NAMES.insn_name(i): i
    for i in (
        X.X86_INS_JMP,
        X.X86_INS_CALL,
        X.X86_INS_LOOP,
        X.X86_INS_LOOPE,
        X.X86_INS_LOOPNE,
        X.X86_INS_JECXZ,
        X.X86_INS_JCXZ,
        *JCC_IDS,
    )
}
_PREFIX_BYTES = frozenset((0xF0, 0xF2, 0xF3, 0x66, 0x67, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65))


_STORES = ("push", "stos", "movs", "ins", "enter", "call", "xchg", "xadd", "cmpxchg")
_READS_FIRST = frozenset(("cmp", "test", "bt", "ptest", "ucomiss", "comiss"))


def may_store(mnemonic: str, op_str: str) -> bool:
    """Whether an instruction may write memory, from its text (conservatively: a memory
    first operand of anything but a compare, and the stack and string writers)."""
    name = mnemonic.split()[-1]
    if name.startswith(_STORES):
        return True
    return "[" in op_str.split(",")[0] and name not in _READS_FIRST


def _prefixes(raw: bytes) -> tuple[int, ...]:
    out: list[int] = []
    for b in raw:
        if b not in _PREFIX_BYTES:
            break
        out.append(b)
    return tuple(out)


def _cs_prefixed(raw: bytes) -> bool:
    """Whether a CS segment prefix is among the prefixes (XLAT, MASKMOVQ... print no segment)."""
    return raw[0] in _PREFIX_BYTES and 0x2E in raw and 0x2E in _prefixes(raw)


def _bad(lite: capstone.Cs, code: bytes) -> str:
    """Why the bytes at `code` do not decode: "too-long" when they are an instruction made
    longer than 15 bytes by redundant prefixes (which Capstone refuses), else "undecodable".
    The instruction is decoded again with one copy of each prefix to find its real end."""
    n = len(_prefixes(bytes(code[: MAX_INSN_LEN + 1])))
    if n > MAX_INSN_LEN:
        return "too-long"
    if n < 2:
        return "undecodable"
    kept: list[int] = []
    for p in code[:n]:
        if p in kept:
            kept.remove(p)
        kept.append(p)
    rest = bytes(kept) + bytes(code[n : n + MAX_INSN_LEN])
    got = next(lite.disasm_lite(rest, 0, 1), None)
    if got is not None and n + got[1] - len(kept) > MAX_INSN_LEN:
        return "too-long"
    return "undecodable"


def _reg_size(name: str) -> int:
    if name.startswith("e") and len(name) == 3 or name in ("eip",):
        return 4
    if name in ("ax", "bx", "cx", "dx", "si", "di", "sp", "bp", "ip"):
        return 2
    if name in ("cs", "ds", "es", "fs", "gs", "ss"):
        return 2
    if name.endswith("l") or name.endswith("h"):
        return 1
    return 4


def _convert(ci: capstone.CsInsn, linear: int, guest: bytes = b"") -> GuestInsn:
    raw = bytes(ci.bytes)
    prefixes: list[int] = []
    for b in raw:
        if b in (0xF0, 0xF2, 0xF3, 0x66, 0x67, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65):
            prefixes.append(b)
        else:
            break
    addr_size = 2 if 0x67 in prefixes else 4
    seg_override = segment_of(tuple(prefixes))
    ops: list[Operand] = []
    for op in ci.operands:
        if op.type == X.X86_OP_REG:
            name = ci.reg_name(op.reg)
            ops.append(RegOp(name, op.size or _reg_size(name)))
        elif op.type == X.X86_OP_IMM:
            ops.append(ImmOp(op.imm & ((1 << (8 * max(op.size, 1))) - 1), op.size))
        elif op.type == X.X86_OP_MEM:
            m = op.mem
            base = ci.reg_name(m.base) if m.base else None
            index = ci.reg_name(m.index) if m.index else None
            # The prefixes decide (the last segment prefix wins); only a string destination
            # ES:[EDI], which Capstone names, takes no override.
            cap = ci.reg_name(m.segment) if m.segment else None
            seg = cap if cap == "es" and seg_override not in (None, "es") else (seg_override or cap)
            if seg is None:
                seg = "ss" if base in ("esp", "ebp", "sp", "bp") else "ds"
            ops.append(MemOp(seg, base, index, m.scale, m.disp, op.size, addr_size))
    return GuestInsn(
        eip=ci.address,
        linear=linear,
        raw=raw,
        insn_id=ci.id,
        mnemonic=ci.mnemonic,
        op_str=ci.op_str,
        operands=tuple(ops),
        prefixes=tuple(prefixes),
        opsize=2 if 0x66 in prefixes else 4,
        guest=guest,
    )
