"""Turns a scanned guest block into position-independent code plus its exits and callouts.

Layout of one translated block:

    [copied or rewritten guest instructions ...][exit slots]

An exit slot is 5 bytes. Unchained it is `int 0x80; nop; nop; nop`, which returns to the monitor;
the cache chains it by overwriting it with `jmp rel32` to the target block. A conditional
branch becomes `Jcc rel32` to its taken slot, whose chaining re-aims the rel32 at the target
as well: Unicorn ends a block at every Jcc, and a slot reached through one would be a block of
its own. A callout is
`int 0x81`: the monitor finds the site by the address after it, runs the instruction's
semantics against the virtual CPU, and execution goes on after it (or leaves the block).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bt.translator.assembler import Assembler
from bt.translator.bake import Bake
from bt.translator.csaccess import read_plan
from bt.translator.errors import AssemblyError, TranslationError
from bt.translator.inline import emulate
from bt.translator.inlinecache import (
    InlineCache,
    Pending,
    near_far_ret,
    plain_ret,
    plain_ret16,
    real_far_same_cs,
)
from bt.translator.insn import GuestInsn, ImmOp, MemOp
from bt.translator.portio import callout_for
from bt.translator.records import (
    SLOT_SIZE,
    CalloutSite,
    ExitPlan,
    InsnRecord,
    Rule,
    Sensitivity,
    TranslatedCode,
)
from bt.translator.scanner import ScannedBlock
from bt.translator.selfcheck import prologue
from bt.translator.sensitive import (
    CALLOUT_THEN_COPY,
    COPY_THEN_CALLOUT,
    CS_WRITE,
    classify,
)

EXIT_VECTOR = 0x80
CALLOUT_VECTOR = 0x81

# Unchained exit slot and callout; checked by Capstone when the Rewriter is made.
_EXIT_TEXT = f"int {EXIT_VECTOR:#x}; nop; nop; nop"
_CALLOUT_TEXT = f"int {CALLOUT_VECTOR:#x}"


class Rewriter:
    """Rewrites scanned guest blocks for one code segment base."""

    def __init__(self, asm: Assembler) -> None:
        self.exit_slot = asm.assemble(_EXIT_TEXT)
        self.callout = asm.assemble(_CALLOUT_TEXT)
        self._push = asm.template("push_imm32", "push {0}")
        self._cache = InlineCache(self.callout, self.exit_slot)
        if len(self.exit_slot) != SLOT_SIZE:
            raise AssemblyError("exit slot encoding is not 5 bytes")

    def rewrite(
        self,
        block: ScannedBlock,
        cs_base: int,
        bake: Bake | None = None,
        code16: bool = False,
        check_zero: int | None = None,
        real_mode: bool = False,
    ) -> TranslatedCode:
        """Translate `block`, building in what `bake` allows (nothing when None); raises
        TranslationError for encodings it cannot handle. `code16`: the block is 16-bit code
        (its instructions carried as their 32-bit forms, translator/mode16.py); its near
        branches are 16-bit ones, and the forms that address the stack as [ESP] (the inline
        caches, PUSHF/POPF) are used only in 32-bit code on a 32-bit stack (the key's SS B
        bit). `check_zero`: the block checks its guest bytes first (translator/selfcheck.py),
        with the BOUND pair of zeros at that linear address. `real_mode`: far CALL and RET to
        the current CS are near ones (a selector's base is selector * 16)."""
        body = bytearray()
        if check_zero is not None:
            body += prologue(_guest_pieces(block), check_zero)
        start = len(body)
        assumes: dict[str, int] = {}
        records: list[InsnRecord] = []
        callouts: list[CalloutSite] = []
        pending: Pending = []
        ranges: list[tuple[int, int]] = []

        def add_exit(target: int | None, edge: str, branch: int = -1) -> None:
            pending.append((len(body), target, edge, branch))
            body.extend(self.exit_slot)

        def add_callout(insn: GuestInsn, sens: Sensitivity, ends: bool) -> None:
            body.extend(callout_for(insn, bake, self.callout))  # translator/portio.py
            callouts.append(CalloutSite(len(body), insn, sens.kind, ends))

        rules = (
            block.rules
            if len(block.rules) == len(block.insns)
            else tuple(classify(i) for i in block.insns)
        )
        open_end = block.end_reason in ("limit", "page")
        # The forms that address the stack as [ESP]: 32-bit code on a 32-bit stack.
        esp_ok = not code16 and (bake is None or bake.stack32)
        # The 16-bit stack forms move SP by LEA of SP: only for a 16-bit stack.
        stack16 = code16 and bake is not None and not bake.stack32
        n = len(block.insns)
        for k, (insn, sens) in enumerate(zip(block.insns, rules, strict=True)):
            if real_mode and sens is CS_WRITE:
                # Real mode checks no segment type: a write like a read, or the sensitive
                # instruction's own rule (SGDT [cs:m] stores the virtual GDTR).
                sens = classify(insn, cs_writes_fault=False)
                open_end = open_end or k == n - 1  # the scanner ended the block after it
            same_cs = real_far_same_cs(insn, sens.kind, bake) if real_mode and stack16 else None
            if same_cs is not None:
                # Real mode, to the current CS (same selector, same base): a near transfer.
                records.append(InsnRecord(len(body), insn, sens))
                _extend(ranges, insn.linear, insn.linear + insn.size)
                if sens.kind == "far_ret":
                    self._cache.ret16(insn, sens, body, pending, callouts, same_cs)
                else:
                    body.extend(b"\x68" + (same_cs << 16 | insn.next_eip).to_bytes(4, "little"))
                    add_exit(_far_target(insn), "jump")
                continue
            if not esp_ok and sens.kind in _ESP_FORMS:
                pass  # its callout, below
            elif bake is not None and sens.kind == "far_ret" and near_far_ret(insn, bake):
                records.append(InsnRecord(len(body), insn, sens))
                _extend(ranges, insn.linear, insn.linear + insn.size)
                op = insn.operands[0] if insn.operands else None
                imm = op.value & 0xFFFF if isinstance(op, ImmOp) else 0
                self._cache.ret(
                    insn, sens, body, pending, callouts, far_sel=bake.cs_sel, pop=8 + imm
                )
                assumes["csdesc"] = bake.cs_desc
                continue
            if (
                bake is not None
                and sens.rule in (Rule.INLINE, Rule.EXIT)
                and (esp_ok or sens.kind not in _ESP_FORMS)
            ):
                done = self._emulate(
                    insn, sens, bake, open_end and k == n - 1, body, records, callouts, assumes
                )
                if done:
                    _extend(ranges, insn.linear, insn.linear + insn.size)
                    continue
            records.append(InsnRecord(len(body), insn, sens))
            _extend(ranges, insn.linear, insn.linear + insn.size)
            rule = sens.rule
            if rule is Rule.COPY:
                if insn.mnemonic == "cmpxchg8b":
                    # Unicorn 2.1.4's CMPXCHG8B helper computes the flags from the CPU's
                    # stored cc_op without the translator writing it first; with guest paging
                    # on its own walker the stored one can be stale, and ZF (and TF, from an
                    # ADD's operand left in CC_SRC) come out wrong. A `jmp $+2` ends
                    # Unicorn's block there, which stores cc_op: the helper then reads it.
                    body += _TB_SPLIT
                    records[-1] = InsnRecord(len(body), insn, sens)
                body += insn.raw
            elif sens.kind == "cs_access":
                if not self._cs_read(insn, cs_base, bake, body, callouts):
                    records[-1] = InsnRecord(records[-1].offset, insn, _CS_INLINE)
            elif rule is Rule.INLINE and sens.kind in CALLOUT_THEN_COPY:
                add_callout(insn, sens, False)
                # The instruction starts at its copy: counted, traced and interrupted there.
                records[-1] = InsnRecord(len(body), insn, sens)
                body += insn.raw
            elif rule is Rule.INLINE and sens.kind in COPY_THEN_CALLOUT:
                body += insn.raw
                add_callout(insn, sens, False)
            elif rule is Rule.INLINE:
                add_callout(insn, sens, False)
            elif rule is Rule.EXIT:
                add_callout(insn, sens, True)
                add_exit(insn.next_eip, "next")
            elif rule is Rule.INDIRECT and sens.kind == "ret" and plain_ret(insn) and esp_ok:
                self._cache.ret(insn, sens, body, pending, callouts)
            elif rule is Rule.INDIRECT and sens.kind == "ret" and plain_ret16(insn) and stack16:
                self._cache.ret16(insn, sens, body, pending, callouts)
            elif (
                rule is Rule.INDIRECT
                and sens.kind == "call_indirect"
                and insn.opsize == 4
                and esp_ok
                and not _through_cs(insn)
            ):
                self._cache.call(insn, sens, body, pending, callouts)
            elif rule is Rule.INDIRECT:
                add_callout(insn, sens, True)
                add_exit(None, "never")
            else:
                self._branch(insn, sens, body, add_exit, add_callout, code16)
        if block.end_reason in _BAD and block.bad_eip is not None:
            bad = _undecodable(block.bad_eip, cs_base)
            why = _BAD[block.end_reason]
            records.append(InsnRecord(len(body), bad, why))
            add_callout(bad, why, True)
            add_exit(None, "never")
        elif open_end:
            add_exit(block.insns[-1].next_eip, "next")
        exits = tuple(ExitPlan(off, target, edge, br) for off, target, edge, br in pending)
        return TranslatedCode(
            bytes(body),
            tuple(records),
            tuple(callouts),
            exits,
            tuple(ranges),
            tuple(sorted(assumes.items())),
            start,
        )

    def _emulate(
        self,
        insn: GuestInsn,
        sens: Sensitivity,
        bake: Bake,
        last: bool,
        body: bytearray,
        records: list[InsnRecord],
        callouts: list[CalloutSite],
        assumes: dict[str, int],
    ) -> bool:
        """Emit the inline form of a sensitive instruction; False when it has none."""
        got = emulate(insn, sens.kind, bake, self.callout, last)
        if got is None:
            return False
        start = len(body)
        records.append(InsnRecord(start, insn, Sensitivity(Rule.EMULATE, sens.kind, _INLINE)))
        body += got.code
        if got.resume is not None:
            callouts.append(CalloutSite(start + got.resume, insn, sens.kind, False))
        assumes.update(got.assumes)
        return True

    def _cs_read(
        self,
        insn: GuestInsn,
        cs_base: int,
        bake: Bake | None,
        body: bytearray,
        callouts: list[CalloutSite],
    ) -> bool:
        """A read through the guest's CS (translator/csaccess.py); True when it calls the
        monitor."""
        plan = read_plan(insn, cs_base, bake is not None and bake.cs_flat)
        if plan is None:
            raise TranslationError(
                f"read through CS at 0x{insn.linear:08x} ({insn.text()}) is not supported"
            )
        kind, site, code = plan
        if kind is not None and site is not None:
            body.extend(self.callout)
            callouts.append(CalloutSite(len(body), site, kind, False))
        body.extend(code)
        return kind is not None

    def _branch(
        self,
        insn: GuestInsn,
        sens: Sensitivity,
        body: bytearray,
        add_exit: _AddExit,
        add_callout: _AddCallout,
        code16: bool = False,
    ) -> None:
        target = _direct_target(insn)
        if target is None or insn.opsize != 4 and not code16:
            # 16-bit operand size branches truncate EIP and push 16-bit return addresses:
            # rare in 32-bit code, so the monitor performs them.
            add_callout(insn, Sensitivity(Rule.INDIRECT, "branch16", sens.reason), True)
            add_exit(None, "never")
            return
        if sens.kind == "jmp":
            add_exit(target, "jump")
        elif sens.kind == "call":
            if insn.opsize == 2:
                body.extend(b"\x66\x68" + (insn.next_eip & 0xFFFF).to_bytes(2, "little"))
            else:
                body.extend(self._push.emit(insn.next_eip))
            add_exit(target, "jump")
        elif sens.kind == "jcc":
            op = insn.raw[len(insn.prefixes)]
            cc = (insn.raw[len(insn.prefixes) + 1] if op == 0x0F else op) & 0x0F
            # Jcc rel32 over the fallthrough slot to the taken one; chaining re-aims it.
            body.extend(bytes((0x0F, 0x80 | cc)) + SLOT_SIZE.to_bytes(4, "little"))
            rel32 = len(body) - 4
            add_exit(insn.next_eip, "fallthrough")
            add_exit(target, "taken", rel32)
        elif sens.kind == "loop":
            # LOOPcc/JECXZ keep their own opcode and address-size prefix; only the rel8 moves.
            prefix = bytes(p for p in insn.prefixes if p == 0x67)
            body.extend(prefix + bytes((insn.raw[len(insn.prefixes)], SLOT_SIZE)))
            add_exit(insn.next_eip, "fallthrough")
            add_exit(target, "taken")
        else:
            raise TranslationError(f"no translation for {insn.text()} at 0x{insn.linear:08x}")


class _AddExit(Protocol):
    def __call__(self, target: int | None, edge: str, branch: int = -1) -> None: ...


_AddCallout = Callable[[GuestInsn, Sensitivity, bool], None]


# Sensitive kinds whose inline forms address the stack as [ESP]: 16-bit code calls out.
_TB_SPLIT = b"\xeb\x00"  # jmp $+2: ends Unicorn's own translation block there
_ESP_FORMS = frozenset(("pushf", "popf", "far_ret"))

_INLINE = (
    "emulated in translated code: it reads state built into the translation or held by "
    "the real CPU (IF), and calls the monitor only on its slow path"
)
_UNDECODABLE = Sensitivity(Rule.EXIT, "ud", "undecodable bytes: #UD through the virtual IDT")
_TOO_LONG = Sensitivity(
    Rule.EXIT,
    "gp0",
    "longer than 15 bytes (redundant prefixes): #GP(0) "
    "through the virtual IDT, as QEMU and the Intel SDM give it",
)
_BAD = {"undecodable": _UNDECODABLE, "too-long": _TOO_LONG}
_CS_INLINE = Sensitivity(
    Rule.EMULATE,
    "cs_access",
    "reads through CS: the offset is biased by "
    "the guest's CS base in translated code, which is 4 GiB and readable "
    "(translator/csaccess.py)",
)


def _undecodable(eip: int, cs_base: int) -> GuestInsn:
    return GuestInsn(eip, (cs_base + eip) & 0xFFFFFFFF, b"", 0, "(bad)", "", (), (), 4)


def _far_target(insn: GuestInsn) -> int:
    op = insn.operands[1]
    assert isinstance(op, ImmOp)
    return op.value & 0xFFFF


def _guest_pieces(block: ScannedBlock) -> list[tuple[int, bytes]]:
    """The block's guest bytes as (linear address, bytes) runs."""
    out: list[tuple[int, bytes]] = []
    for insn in block.insns:
        if out and out[-1][0] + len(out[-1][1]) == insn.linear:
            out[-1] = (out[-1][0], out[-1][1] + insn.guest_bytes)
        else:
            out.append((insn.linear, insn.guest_bytes))
    return out


def _direct_target(insn: GuestInsn) -> int | None:
    if len(insn.operands) == 1 and isinstance(insn.operands[0], ImmOp):
        return insn.operands[0].value & 0xFFFFFFFF
    return None


def _extend(ranges: list[tuple[int, int]], start: int, end: int) -> None:
    if ranges and ranges[-1][1] == start:
        ranges[-1] = (ranges[-1][0], end)
    else:
        ranges.append((start, end))


def _through_cs(insn: GuestInsn) -> bool:
    """Whether `insn` reads its operand through CS, which the inline forms would evaluate with
    the real CS (the translation cache's) instead of the guest's: the monitor does it."""
    return any(isinstance(op, MemOp) and op.seg == "cs" for op in insn.operands)
