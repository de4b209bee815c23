"""InlineCache: the two-entry, flag-free inline caches of translated RET, far RET and CALL r/m32."""

from __future__ import annotations

from bt.translator.bake import Bake
from bt.translator.insn import GuestInsn, ImmOp
from bt.translator.records import CalloutSite, Sensitivity

# (slot position, target, edge, position of a Jcc rel32 that reaches it or -1)
Pending = list[tuple[int, int | None, str, int]]

_XCHG = b"\x87\x0c\x24"  # xchg ecx, [esp]
_LEA = b"\x8d\x89"  # lea ecx, [ecx + disp32]
_DR0_ECX = b"\x0f\x23\xc1"  # mov dr0, ecx
_ECX_DR0 = b"\x0f\x21\xc1"  # mov ecx, dr0


def plain_ret(insn: GuestInsn) -> bool:
    """A 32-bit RET without an immediate: the only near return given an inline cache."""
    return insn.opsize == 4 and not insn.operands and insn.raw[-1] == 0xC3


def plain_ret16(insn: GuestInsn) -> bool:
    """A 16-bit RET without an immediate (in 16-bit code)."""
    return insn.opsize == 2 and not insn.operands and insn.raw[-1] == 0xC3


def real_far_same_cs(insn: GuestInsn, kind: str, bake: Bake | None) -> int | None:
    """The current CS selector when `insn` is a real-mode 16-bit CALL ptr16:16 to it or a
    plain 16-bit RETF (which may return to it: checked inline), else None."""
    if bake is None or insn.opsize != 2 or 0x67 in insn.prefixes:
        return None
    if kind == "far_ret":
        return bake.cs_sel if insn.raw[-1] == 0xCB and not insn.operands else None
    ops = insn.operands
    if kind != "far_call" or len(ops) != 2 or not isinstance(ops[1], ImmOp):
        return None
    sel = ops[0]
    return bake.cs_sel if isinstance(sel, ImmOp) and sel.value & 0xFFFF == bake.cs_sel else None


def near_far_ret(insn: GuestInsn, bake: Bake) -> bool:
    """A 32-bit RETF that can be checked inline for a return to the current CS (a flat
    one: no limit to check), which is then a near return that pops the selector too: only
    while the descriptor table holds for that selector exactly what CS holds (otherwise
    the return reloads CS with something else)."""
    return (
        bake.cs_flat
        and bake.cs_desc >= 0
        and insn.opsize == 4
        and not insn.prefixes
        and insn.raw[0] in (0xCA, 0xCB)
    )


class InlineCache:
    """Emits inline caches whose entries the monitor re-aims (CalloutSite.fields)."""

    def __init__(self, callout: bytes, exit_slot: bytes) -> None:
        self.callout = callout
        self.exit_slot = exit_slot

    def ret(
        self,
        insn: GuestInsn,
        sens: Sensitivity,
        body: bytearray,
        pending: Pending,
        callouts: list[CalloutSite],
        far_sel: int | None = None,
        pop: int = 4,
    ) -> None:
        """RET with a two-entry inline cache of return targets, without touching EFLAGS.

        ECX is swapped with the return address at [ESP] and compared by LEA and JECXZ (neither
        writes flags). A hit restores ECX, pops, and leaves through an exit slot chained to the
        predicted block; [ESP] then holds the return address, as after a real RET. A miss
        restores both and calls the monitor, which re-aims one entry at the target it finds.
        Entries start at 0, whose slots lead to guest address 0: correct for a return there.

        A far RET (`far_sel`) first compares the pushed selector with the current CS the same
        way: equal, it is a near return that also pops the selector (and `pop` - 8 bytes);
        otherwise the monitor performs it.
        """
        pop_esp = (
            b"\x8d\x64\x24" + bytes((pop,))
            if pop < 0x80
            else b"\x8d\xa4\x24" + pop.to_bytes(4, "little")
        )  # lea esp, [esp + pop]
        head = bytearray()
        to_monitor = -1
        if far_sel is not None:
            xchg4 = b"\x87\x4c\x24\x04"  # xchg ecx, [esp + 4]
            minus = _LEA + (-far_sel & 0xFFFFFFFF).to_bytes(4, "little")
            plus = _LEA + far_sel.to_bytes(4, "little")
            head += xchg4 + minus + b"\xe3" + bytes((len(plus) + len(xchg4) + 2,))  # jecxz same
            head += plus + xchg4 + b"\xeb\x00"  # jmp to the monitor (patched below)
            to_monitor = len(head) - 1
            head += plus + xchg4  # same CS: restore, go on as a near RET
        start = len(body)
        resume = self._emit(insn, sens, body, pending, callouts, head, b"", pop_esp, "ret-cache")
        if to_monitor >= 0:
            # The miss path is restored just before its callout: the jump lands there too.
            body[start + to_monitor] = resume - len(self.callout) - start - (to_monitor + 1)

    def ret16(
        self,
        insn: GuestInsn,
        sens: Sensitivity,
        body: bytearray,
        pending: Pending,
        callouts: list[CalloutSite],
        far_sel: int | None = None,
    ) -> None:
        """RET with a 16-bit operand and stack (real mode, 16-bit protected mode), with the
        same inline cache. A 16-bit stack cannot be addressed as [ESP] (ESP's upper half is
        the guest's, and SP's wrap at 64 KiB differs), so ECX is kept in the real DR0
        (unused: the guest's debug registers are virtual) and the return IP popped into CX
        with SP's own arithmetic. A miss moves SP back over it (LEA: no flags, and no write,
        which could hit a code page in the middle of the sequence) and calls the monitor,
        which pops it as RET does.

        A real-mode RETF (`far_sel`: the current CS) pops IP and CS as one dword and takes
        the selector off by LEA: only a return to this CS leaves a value that can match."""
        if far_sel is None:
            enter = _DR0_ECX + b"\x66\x59" + b"\x0f\xb7\xc9"  # mov dr0, ecx; pop cx; movzx
            miss = b"\x66\x8d\x64\x24\xfe" + _ECX_DR0  # lea sp, [esp - 2]; mov ecx, dr0
        else:
            sel = (-(far_sel << 16) & 0xFFFFFFFF).to_bytes(4, "little")
            enter = _DR0_ECX + b"\x59" + _LEA + sel  # mov dr0, ecx; pop ecx; lea - sel << 16
            miss = b"\x66\x8d\x64\x24\xfc" + _ECX_DR0  # lea sp, [esp - 4]; mov ecx, dr0
        self._emit(
            insn, sens, body, pending, callouts, b"", b"", b"", "ret-cache", enter, miss, _ECX_DR0
        )

    def call(
        self,
        insn: GuestInsn,
        sens: Sensitivity,
        body: bytearray,
        pending: Pending,
        callouts: list[CalloutSite],
    ) -> None:
        """CALL r/m32 with the RET-style inline cache: the target is pushed with the same
        operand (FF /2 becomes FF /6, which evaluates it with the same ESP), compared flag-free,
        and a hit replaces it with the return address, leaving the stack as CALL would."""
        i = len(insn.prefixes)
        push = bytearray(insn.raw)
        push[i + 1] = (push[i + 1] & 0xC7) | (6 << 3)
        # A miss drops the pushed target; a hit overwrites it with the return address (mov
        # imm32 to memory: no flags).
        drop = b"\x8d\x64\x24\x04"  # lea esp, [esp + 4]
        ret_addr = b"\xc7\x04\x24" + insn.next_eip.to_bytes(4, "little")
        self._emit(insn, sens, body, pending, callouts, push, drop, ret_addr, "call-cache")

    def _emit(
        self,
        insn: GuestInsn,
        sens: Sensitivity,
        body: bytearray,
        pending: Pending,
        callouts: list[CalloutSite],
        head: bytes | bytearray,
        miss_tail: bytes,
        hit_tail: bytes,
        edge: str,
        enter: bytes = _XCHG,
        miss_leave: bytes = _XCHG,
        hit_leave: bytes = _XCHG,
    ) -> int:
        """`head`, then ECX swapped with [ESP] and compared with two entries flag-free: a miss
        restores ECX, runs `miss_tail` and calls the monitor; a hit restores ECX, runs
        `hit_tail` and leaves through an exit slot (`edge`) chained to the predicted block.
        The callout's fields are the disp32 of the five LEAs, which the monitor rewrites to
        re-aim an entry. Returns the callout's resume offset."""
        start = len(body)
        fields: list[int] = []
        seq = bytearray(head) + enter
        fields.append(start + len(seq) + 2)
        seq += _LEA + b"\0\0\0\0"  # - P1
        seq += b"\xe3\x00"  # jecxz hit1 (patched below)
        j1 = len(seq) - 1
        fields.append(start + len(seq) + 2)
        seq += _LEA + b"\0\0\0\0"  # + P1 - P2
        seq += b"\xe3\x00"  # jecxz hit2
        j2 = len(seq) - 1
        fields.append(start + len(seq) + 2)
        seq += _LEA + b"\0\0\0\0"  # + P2
        seq += miss_leave + miss_tail + self.callout
        resume = start + len(seq)
        seq += self.exit_slot  # never reached: the monitor always redirects after it
        hits: list[int] = []
        for jpos in (j1, j2):
            seq[jpos] = len(seq) - (jpos + 1)
            fields.append(start + len(seq) + 2)
            seq += _LEA + b"\0\0\0\0" + hit_leave + hit_tail  # + Pn, restore ECX
            hits.append(start + len(seq))
            seq += self.exit_slot
        body += seq
        first_exit = len(pending)
        pending.append((resume, None, "never", -1))
        for h in hits:
            pending.append((h, 0, edge, -1))
        callouts.append(
            CalloutSite(
                resume, insn, sens.kind, True, tuple(fields), (first_exit + 1, first_exit + 2)
            )
        )
        return resume
