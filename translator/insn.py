"""Decoded guest instructions: plain records the rewriter and the callouts work from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

GuestAddr = NewType("GuestAddr", int)
"""A guest address: an offset in a segment or a linear address (32 bits)."""


@dataclass(frozen=True, slots=True)
class RegOp:
    """A register operand, named as Capstone names it (eax, ax, al, cs, cr0, dr7...)."""

    name: str
    size: int


@dataclass(frozen=True, slots=True)
class ImmOp:
    """An immediate operand."""

    value: int
    size: int


@dataclass(frozen=True, slots=True)
class MemOp:
    """A memory operand: seg:[base + index * scale + disp], `addr_size` 2 or 4 bytes."""

    seg: str | None  # explicit or default segment register
    base: str | None
    index: str | None
    scale: int
    disp: int
    size: int
    addr_size: int


Operand = RegOp | ImmOp | MemOp


@dataclass(frozen=True, slots=True)
class GuestInsn:
    """One guest instruction as decoded at translation time."""

    eip: int  # offset in the guest's code segment
    linear: int  # CS base + eip
    raw: bytes
    insn_id: int  # Capstone's X86_INS_* id
    mnemonic: str
    op_str: str
    operands: tuple[Operand, ...]
    prefixes: tuple[int, ...]  # legacy prefix bytes present (0xF3, 0x66, 0x67, segment...)
    opsize: int  # operand size in bytes implied by the encoding (2 or 4)
    # The guest's own bytes when `raw` is another encoding of them: 16-bit code is decoded
    # and translated as its 32-bit form (translator/mode16.py). Empty: `raw` is the guest's.
    guest: bytes = b""

    @property
    def guest_bytes(self) -> bytes:
        """The instruction's bytes in guest memory."""
        return self.guest or self.raw

    @property
    def size(self) -> int:
        """Length in guest memory, in bytes."""
        return len(self.guest or self.raw)

    @property
    def next_eip(self) -> int:
        """Offset of the following instruction (wrapping in a 32-bit segment)."""
        return (self.eip + len(self.guest or self.raw)) & 0xFFFFFFFF

    def text(self) -> str:
        """Assembly text as Capstone prints it."""
        return f"{self.mnemonic} {self.op_str}".strip()
