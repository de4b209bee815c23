"""Raw random bytes as fuzz cases (tools/fuzz.py): in protected mode at CPL 0, or in
virtual-8086 mode after a prologue; each must end in a result with the monitor intact."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from fuzz import _KS, BASE, MEM, case_image  # noqa: E402
from isolation_check import MonitorWatch  # noqa: E402

from bt.bootimage import BootImage  # noqa: E402
from bt.loader import load_guest  # noqa: E402
from bt.machine import Machine, MachineConfig  # noqa: E402


def raw_bytes_case(blob: bytes, tmp: Path) -> str | None:
    """Random bytes: the engine must end with a result (any), never an escape or traceback,
    and leave the translation cache, its page and the real CPU state as the monitor made them."""
    path = tmp / "case.bin"
    path.write_bytes(blob + b"\xe6\xf4")
    return _escapes(load_guest(str(path), MEM, "", BASE, None), "")


def _escapes(image: BootImage, what: str) -> str | None:
    """Run `image`: None when it ends in a result with the monitor's state intact."""
    m = Machine(MachineConfig(MEM), image, lambda _b: None)
    watch = MonitorWatch(m)
    res = m.run(max_insns=20000)
    if res.kind not in ("exit-port", "crash", "limit", "halt"):
        return f"unexpected result {res}{what}"
    bad = watch.violations()
    return f"isolation: {'; '.join(bad)} after {res.kind}{what}" if bad else None


# Raw bytes in virtual-8086 mode: a prologue loads a GDT with a TSS (ring-0 stack, no I/O
# bitmap: every port faults), copies the bytes to 0800:0000 and IRETDs into V86 mode at IOPL
# 0 or 3 with VM set; any exception leaves through the IDT's stubs to the exit port.
V86_TSS = 0x6000
V86_CODE = 0x8000
_DATA = 0x100  # the prologue's data, after its code (about 0xA0 bytes)
_V86_PROLOGUE = """
    lgdt [{gdtr}]
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x9F000
    mov dword ptr [{tss} + 4], 0x9F000
    mov dword ptr [{tss} + 8], 0x10
    mov word ptr [{tss} + 0x66], 0x68
    mov ax, 0x18
    ltr ax
    mov esi, {blob}
    mov edi, {code}
    mov ecx, {size}
    cld
    rep movsb
    mov eax, 0x0400
    push eax
    mov eax, 0x0300
    push eax
    mov eax, 0x0800
    push eax
    mov eax, 0x0200
    push eax
    mov eax, 0x0700
    push eax
    mov eax, 0xFFF0
    push eax
    mov eax, {eflags}
    push eax
    mov eax, 0x0800
    push eax
    xor eax, eax
    push eax
    iretd
"""
# (By register: Keystone assembles `push 0xFFF0` as 6A F0, a push of -16.)


def v86_image(blob: bytes, iopl: int, tmp: Path) -> BootImage:
    """The V86 case: prologue, then (at BASE + _DATA) its GDT, GDTR and the bytes, as a flat
    guest at 1 MiB."""
    tss_desc = struct.pack("<HHBBBB", 0x67, V86_TSS & 0xFFFF, V86_TSS >> 16, 0x89, 0, 0)
    gdt = bytes(8) + bytes.fromhex("ffff0000009acf00ffff00000092cf00") + tss_desc
    gdt_at = BASE + _DATA
    gdtr_at = gdt_at + len(gdt)
    text = _V86_PROLOGUE.format(
        gdtr=gdtr_at,
        tss=V86_TSS,
        blob=gdtr_at + 6,
        code=V86_CODE,
        size=len(blob),
        eflags=0x20002 | iopl << 12,
    )
    code = bytes(_KS.asm(text, BASE)[0])
    assert len(code) <= _DATA, "the prologue grew into its data"
    gdtr = struct.pack("<HI", len(gdt) - 1, gdt_at)
    return case_image(code.ljust(_DATA, b"\x90") + gdt + gdtr + blob, tmp)


def raw_v86_case(blob: bytes, iopl: int, tmp: Path) -> str | None:
    """Random bytes run in V86 mode: as `raw_bytes_case`, a result and isolation intact."""
    return _escapes(v86_image(blob, iopl, tmp), f" (V86, IOPL {iopl})")
