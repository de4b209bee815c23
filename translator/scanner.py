"""Decodes one guest basic block with Capstone, reading guest bytes through a narrow Protocol."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import capstone
from capstone import x86_const as X

from translator.insn import GuestInsn, ImmOp, MemOp, Operand, RegOp
from translator.sensitive import Rule, classify, needs_detail

MAX_BLOCK_INSNS = 64
_SEG_PREFIX = {0x2E: "cs", 0x36: "ss", 0x3E: "ds", 0x26: "es", 0x64: "fs", 0x65: "gs"}


class CodeSource(Protocol):
    """Guest code bytes as the translator may read them (no side effects, no faults)."""

    def fetch_code(self, linear: int, size: int) -> bytes:
        """Up to `size` bytes at guest-linear `linear`; fewer where guest memory ends."""
        ...


@dataclass(frozen=True, slots=True)
class ScannedBlock:
    """The guest instructions of one block and why the block ends where it does."""

    insns: tuple[GuestInsn, ...]
    end_reason: str  # "branch", "callout-exit", "limit", "undecodable", "page"
    bad_eip: int | None  # the undecodable instruction's offset, when end_reason says so


class Scanner:
    """Capstone decoder for 32-bit protected-mode guest code."""

    WINDOW = 256

    def __init__(self) -> None:
        self._cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
        self._cs.detail = True
        self._lite = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
        self.decoded = 0
        self.detailed = 0
        self._buf: bytes = b""  # guest bytes being decoded, from guest-linear _buf_start
        self._buf_start = -1

    def _next(self, code: CodeSource, cs_base: int, cur: int) -> GuestInsn | None:
        """Decode the instruction at offset `cur`: light decoding first, detail if needed."""
        linear = (cs_base + cur) & 0xFFFFFFFF
        if self._buf_start <= linear and linear + 16 <= self._buf_start + len(self._buf):
            window = self._buf[linear - self._buf_start :]
        else:
            self._buf = code.fetch_code(linear, self.WINDOW)
            self._buf_start = linear
            window = self._buf
        lite = next(self._lite.disasm_lite(window[:16], cur, 1), None)
        if lite is None:
            return None
        self.decoded += 1
        _addr, size, mnemonic, op_str = lite
        raw = bytes(window[:size])
        if not needs_detail(mnemonic, op_str):
            return GuestInsn(cur, linear, raw, 0, mnemonic, op_str, (), (), 4)
        self.detailed += 1
        decoded = next(self._cs.disasm(raw, cur, 1), None)
        return None if decoded is None else _convert(decoded, linear)

    def scan(
        self, code: CodeSource, cs_base: int, eip: int, max_insns: int = MAX_BLOCK_INSNS
    ) -> ScannedBlock:
        """Decode from `eip` to the end of the block (control flow, exit callout or limit)."""
        insns: list[GuestInsn] = []
        cur = eip
        self._buf = b""
        self._buf_start = -1
        while True:
            insn = self._next(code, cs_base, cur)
            if insn is None:
                return ScannedBlock(tuple(insns), "undecodable", cur)
            insns.append(insn)
            rule = classify(insn).rule
            if rule in (Rule.BRANCH, Rule.INDIRECT):
                return ScannedBlock(tuple(insns), "branch", None)
            if rule is Rule.EXIT:
                return ScannedBlock(tuple(insns), "callout-exit", None)
            cur = insn.next_eip
            if len(insns) >= max_insns:
                return ScannedBlock(tuple(insns), "limit", None)


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


def _convert(ci: capstone.CsInsn, linear: int) -> GuestInsn:
    raw = bytes(ci.bytes)
    prefixes: list[int] = []
    for b in raw:
        if b in (0xF0, 0xF2, 0xF3, 0x66, 0x67, 0x2E, 0x36, 0x3E, 0x26, 0x64, 0x65):
            prefixes.append(b)
        else:
            break
    addr_size = 2 if 0x67 in prefixes else 4
    seg_override = next((_SEG_PREFIX[p] for p in prefixes if p in _SEG_PREFIX), None)
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
            seg = ci.reg_name(m.segment) if m.segment else seg_override
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
    )
