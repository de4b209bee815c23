"""The translator's product records: translated code, callout sites, exit plans, instruction
records and the rule applied to each instruction. Plain data: the cache, the persistent store
and the inspector depend on these, never on the rewriter or Keystone."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bt.translator.insn import GuestInsn

SLOT_SIZE = 5  # bytes of an exit slot: `int 0x80; nop; nop; nop` unchained, `jmp rel32` chained


class Rule(Enum):
    """How the rewriter treats an instruction."""

    COPY = "copy"  # copied unchanged
    INLINE = "callout"  # callout to the monitor, then the block goes on
    EXIT = "callout-exit"  # callout to the monitor, then the block ends
    BRANCH = "branch"  # direct control flow: exit slots the cache can chain
    INDIRECT = "indirect"  # indirect control flow: the monitor computes the target
    EMULATE = "inline"  # emulated by translated code, no monitor entry (translator/inline.py)


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """The rule for one instruction, the callout kind that implements it, and the reason."""

    rule: Rule
    kind: str
    reason: str


@dataclass(frozen=True, slots=True)
class CalloutSite:
    """A sensitive instruction turned into a callout; `resume` is the offset after the int."""

    resume: int
    insn: GuestInsn
    kind: str
    ends_block: bool
    ic_fields: tuple[int, ...] = ()  # inline-cache disp32 offsets (see _ret_inline_cache)
    ic_exits: tuple[int, ...] = ()  # exit-slot numbers of the inline-cache hits


@dataclass(frozen=True, slots=True)
class ExitPlan:
    """An exit slot at `offset`: where the guest goes when execution leaves through it."""

    offset: int
    target: int | None  # guest EIP, None for a slot that must never be reached
    edge: str  # "jump", "taken", "fallthrough", "next"
    # Offset of the rel32 of a Jcc whose taken path reaches this slot: chaining aims it at
    # the target too, so a taken branch skips the slot (one Unicorn block fewer). -1: none.
    branch: int = -1


@dataclass(frozen=True, slots=True)
class InsnRecord:
    """One guest instruction, where its translation starts, and the rule applied to it."""

    offset: int
    insn: GuestInsn
    sensitivity: Sensitivity


@dataclass(frozen=True, slots=True)
class TranslatedCode:
    """The rewriter's product: code that may be placed anywhere, and its metadata."""

    code: bytes
    insns: tuple[InsnRecord, ...]
    callouts: tuple[CalloutSite, ...]
    exits: tuple[ExitPlan, ...]
    guest_ranges: tuple[tuple[int, int], ...]  # guest-linear [start, end) of the bytes read
    # Virtual state built into the code, as (name, value): the block is retired when the
    # monitor changes it (cr0, gdtr, idtr).
    assumes: tuple[tuple[str, int], ...] = ()
    # Bytes of self-check before the first instruction (translator/selfcheck.py); 0: none.
    prologue: int = 0
