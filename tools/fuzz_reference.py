"""The fuzzer's reference: a case on bare Unicorn at CPL 0, with its fault and undefined state.

The run is traced instruction by instruction (UC_HOOK_CODE) so that tools/undefined_flags.py can
say which flags and registers the SDM leaves undefined at the end, or where the case first reads
undefined state. A CPU exception stops the run: Unicorn delivers nothing through the IDT (DESIGN
fact 1), so its vector comes from the interrupt hook, its EIP from the CPU at that point (the
faulting instruction; the next one for INT3/INTO), and its error code from the CPU state in a
saved context, at an offset found once by diffing two contexts around two #GPs.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass

import capstone
from capstone import x86_const as X
from undefined_flags import UndefinedState
from unicorn import UC_ARCH_X86, UC_HOOK_CODE, UC_HOOK_INSN, UC_HOOK_INTR, UC_MODE_32, Uc, UcError
from unicorn import x86_const as R
from unicorn.unicorn_const import UC_ERR_INSN_INVALID

from bt.bootimage import BootImage

ERROR_CODE_VECTORS = (8, 10, 11, 12, 13, 14, 17)
GPRS = (
    R.UC_X86_REG_EAX,
    R.UC_X86_REG_ECX,
    R.UC_X86_REG_EDX,
    R.UC_X86_REG_EBX,
    R.UC_X86_REG_ESP,
    R.UC_X86_REG_EBP,
    R.UC_X86_REG_ESI,
    R.UC_X86_REG_EDI,
)
GPR_NAMES = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")
_SEGS = (
    R.UC_X86_REG_ES,
    R.UC_X86_REG_CS,
    R.UC_X86_REG_SS,
    R.UC_X86_REG_DS,
    R.UC_X86_REG_FS,
    R.UC_X86_REG_GS,
)
_CS = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
_CS.detail = True
_CS_REG = {
    getattr(X, n): getattr(R, "UC_" + n)
    for n in dir(X)
    if n.startswith("X86_REG_") and hasattr(R, "UC_" + n)
}


@dataclass(frozen=True, slots=True)
class Fault:
    """A CPU exception as the guest's handler would see it."""

    vector: int
    error_code: int | None
    eip: int


@dataclass(frozen=True, slots=True)
class RefOutcome:
    """What the reference run left: registers (8 GPRs and EFLAGS), data memory, the fault that
    stopped it if any, an error if it ended otherwise, and the undefined state at its end.
    `consumer` is the address of the first instruction that read undefined state (the run
    stopped before it), with the reason."""

    regs: tuple[int, ...]
    data: bytes
    fault: Fault | None
    error: str | None
    undefined: UndefinedState
    consumer: tuple[int, str] | None


def _error_code_offset() -> int:
    """Where a saved context holds the last exception's error code: two #GP(selector) differ
    only there."""
    found = []
    for sel in (0x2B, 0x33):
        uc = Uc(UC_ARCH_X86, UC_MODE_32)
        uc.mem_map(0, 0x3000)
        uc.mem_write(0x1000, bytes(8) + bytes.fromhex("ffff0000009acf00ffff00000092cf00"))
        uc.reg_write(R.UC_X86_REG_GDTR, (0, 0x1000, 0x17, 0))
        uc.reg_write(R.UC_X86_REG_CS, 0x08)
        uc.mem_write(0x2000, b"\x66\xb8" + struct.pack("<H", sel) + b"\x8e\xd8")  # mov ds, ax
        saved: list[bytes] = []

        def hook(u: Uc, _n: int, _d: object, out: list[bytes] = saved) -> None:
            ctx = u.context_save()
            out.append(ctypes.string_at(ctx.context, ctx.size))
            u.emu_stop()

        uc.hook_add(UC_HOOK_INTR, hook)
        uc.emu_start(0x2000, 0x2006)
        found.append(saved[0])
    a, b = found
    hits = [
        i
        for i in range(0, len(a) - 3, 4)
        if a[i : i + 4] == struct.pack("<i", 0x28) and b[i : i + 4] == struct.pack("<i", 0x30)
    ]
    if len(hits) != 1:
        raise RuntimeError(f"cannot find the error code in Unicorn's context ({len(hits)} hits)")
    return hits[0]


_ERROR_CODE_AT = _error_code_offset()


def _operand_reader(uc: Uc, insn: capstone.CsInsn) -> object:
    def value(i: int) -> int:
        op = insn.operands[i]
        if op.type == X.X86_OP_IMM:
            return int(op.imm)
        if op.type == X.X86_OP_REG:
            return int(uc.reg_read(_CS_REG[op.reg]))
        addr = op.mem.disp
        if op.mem.base:
            addr += uc.reg_read(_CS_REG[op.mem.base])
        if op.mem.index:
            addr += uc.reg_read(_CS_REG[op.mem.index]) * op.mem.scale
        return int.from_bytes(uc.mem_read(addr & 0xFFFFFFFF, op.size), "little")

    return value


def run_reference(
    image: BootImage,
    gpr: tuple[int, ...],
    data_at: int,
    data_size: int,
    mem_size: int,
    max_insns: int,
) -> RefOutcome:
    """Run the image's code from its entry until `out 0xf4`, a fault, or undefined state is
    read; at most `max_insns` instructions."""
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, mem_size)
    for chunk in image.chunks:
        uc.mem_write(chunk.paddr, chunk.data)
    uc.reg_write(R.UC_X86_REG_GDTR, (0, image.gdtr[0], image.gdtr[1], 0))
    uc.reg_write(R.UC_X86_REG_IDTR, (0, image.idtr[0], image.idtr[1], 0))
    for reg, seg in zip(_SEGS, image.segments, strict=True):
        uc.reg_write(reg, seg.selector)
    for reg, val in zip(GPRS, gpr, strict=True):
        uc.reg_write(reg, val)
    uc.reg_write(R.UC_X86_REG_EFLAGS, image.eflags)
    uc.reg_write(R.UC_X86_REG_CR0, image.cr0)
    # Loading the segment registers set accessed bits in the GDT; QEMU's boot leaves the code
    # descriptor's clear, so put the boot bytes back.
    for chunk in image.chunks:
        if chunk.paddr == image.gdtr[0]:
            uc.mem_write(chunk.paddr, chunk.data)
    # As on a PC (and in the engine): memory beyond RAM reads 0 and ignores writes.
    uc.mmio_map(mem_size, (1 << 32) - mem_size, lambda *_a: 0, None, lambda *_a: None, None)
    done: list[bool] = []
    faults: list[Fault] = []
    undefined = UndefinedState()
    consumer: list[tuple[int, str]] = []

    def on_out(u: Uc, port: int, size: int, value: int, _ud: object) -> None:
        done.append(True)
        u.emu_stop()

    def on_intr(u: Uc, vector: int, _ud: object) -> None:
        code = None
        if vector in ERROR_CODE_VECTORS:
            ctx = u.context_save()
            code = struct.unpack_from(
                "<I", ctypes.string_at(ctx.context, ctx.size), _ERROR_CODE_AT
            )[0]
        faults.append(Fault(vector, code, int(u.reg_read(R.UC_X86_REG_EIP))))
        u.emu_stop()

    def on_code(u: Uc, address: int, size: int, _ud: object) -> None:
        if done or faults or consumer:
            return
        # An instruction Unicorn cannot decode comes with a size of 0xF1F1F1F1: read at most 15.
        insn = next(_CS.disasm(bytes(u.mem_read(address, min(size, 15))), address), None)
        if insn is None:
            return  # Unicorn runs what Capstone cannot name: #UD follows, or nothing to track
        if insn.mnemonic == "out":
            return  # the case's exit: the status it writes is not compared
        why = undefined.step(insn, _operand_reader(u, insn))  # type: ignore[arg-type]
        if why is not None:
            consumer.append((address, why))
            u.emu_stop()

    uc.hook_add(UC_HOOK_INSN, on_out, None, 1, 0, R.UC_X86_INS_OUT)
    uc.hook_add(UC_HOOK_INTR, on_intr)
    uc.hook_add(UC_HOOK_CODE, on_code)
    error = None
    try:
        uc.emu_start(image.entry, 0xFFFFFFFF, count=max_insns)
    except UcError as exc:
        if exc.errno == UC_ERR_INSN_INVALID:
            faults.append(Fault(6, None, int(uc.reg_read(R.UC_X86_REG_EIP))))
        else:
            error = str(exc)
    if not done and not faults and not consumer and error is None:
        error = "did not finish"
    regs = tuple(int(uc.reg_read(r)) for r in GPRS) + (int(uc.reg_read(R.UC_X86_REG_EFLAGS)),)
    return RefOutcome(
        regs,
        bytes(uc.mem_read(data_at, data_size)),
        faults[0] if faults else None,
        error,
        undefined,
        consumer[0] if consumer else None,
    )
