"""A probe boot floppy that calls BIOS functions with given registers and prints the registers
they return on port 0xE9, and the same calls made on the built-in BIOS's services: the two
answers are compared by tests/test_bios_qemu.py (QEMU runs SeaBIOS, the reference).

Each case zeroes EAX-EBP, loads its registers (ES among them), sets FLAGS to 0x0002 (CF as
asked), calls INT n and prints `tag eax ebx ecx edx esi edi ebp es flags` in hex, then any
memory it asks for. The boot sector loads the rest of the probe with INT 13h first.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bt.bios.api import BiosCall, Outcome, Unsupported
from bt.bios.services import services
from tests.biosmachine import RAM_SIZE, Machine

GPRS = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp")
CF, ZF = 0x0001, 0x0040
SECTORS = 40


@dataclass(frozen=True)
class Case:
    """One call: its vector (-1: no call, only the dump), input registers, CF in, memory to
    fill before it and memory (segment, offset, length) to print after it."""

    tag: str
    vector: int
    regs: dict[str, int] = field(default_factory=dict)
    cf: bool = False
    dump: tuple[int, int, int] | None = None
    poke: tuple[int, bytes] | None = None  # bytes stored at a linear address before the call


def _asm_case(i: int, case: Case) -> list[str]:
    lines = [f"case_{i}:"]
    if case.poke is not None:
        addr, data = case.poke
        lines += [f"    jmp poked_{i}", f"poke_{i}: db {', '.join(str(b) for b in data)}"]
        lines += [f"poked_{i}:", "    xor ax, ax", "    mov es, ax", f"    mov si, poke_{i}"]
        lines += [f"    mov di, {addr:#x}", f"    mov cx, {len(data)}", "    cld", "    rep movsb"]
    lines += [f"    xor {r}, {r}" for r in GPRS]
    lines.append("    mov es, ax")
    for name, value in case.regs.items():
        if name == "es":
            lines += [f"    mov ax, {value:#x}", "    mov es, ax"]
    for name, value in case.regs.items():
        if name != "es":
            lines.append(f"    mov {name}, {value:#x}")
    lines += [f"    push word {0x0002 | (CF if case.cf else 0):#x}", "    popf"]
    if case.vector >= 0:
        lines.append(f"    int {case.vector:#x}")
    lines += [f"    mov word [cs:tag_ptr], tag_{i}", "    call dump"]
    if case.dump is not None:
        seg, off, length = case.dump
        lines += [
            f"    push word {seg:#x}",
            f"    push word {off:#x}",
            f"    push word {length:#x}",
        ]
        lines.append("    call dumpmem")
    return lines


def probe_source(cases: Iterable[Case]) -> str:
    """The NASM source of the probe floppy's first sectors."""
    cases = list(cases)
    body: list[str] = []
    for i, case in enumerate(cases):
        body += _asm_case(i, case)
    tags = [f'tag_{i}: db "{c.tag}", 0' for i, c in enumerate(cases)]
    return "\n".join(
        [
            "bits 16",
            "org 0x7C00",
            "    xor ax, ax",
            "    mov ds, ax",
            "    mov ss, ax",
            "    mov sp, 0x7000",
            f"    mov ax, 0x02{SECTORS:02x}",
            "    mov bx, 0x7E00",
            "    mov cx, 0x0002",
            "    xor dh, dh",
            "    int 0x13",
            "    jmp main",
            "times 510-($-$$) db 0",
            "dw 0xAA55",
            "main:",
            *body,
            "    mov al, 0",
            "    out 0xF4, al",
            "    cli",
            "    hlt",
            _ROUTINES,
            "tag_ptr: dw 0",
            *tags,
            f"times 512*{SECTORS + 1}-($-$$) db 0",
        ]
    )


_ROUTINES = r"""
nib:
    and al, 0x0F
    add al, '0'
    cmp al, '9'
    jbe .o
    add al, 7
.o: out 0xE9, al
    ret
hex8:
    push ax
    shr al, 4
    call nib
    pop ax
    push ax
    call nib
    pop ax
    ret
hex16:
    xchg al, ah
    call hex8
    xchg al, ah
    call hex8
    ret
hex32:
    ror eax, 16
    call hex16
    ror eax, 16
    call hex16
    ret
space:
    push ax
    mov al, ' '
    out 0xE9, al
    pop ax
    ret
dump:                       ; the registers as the INT left them (pushad order below)
    pushf
    pushad
    mov bp, sp
    mov si, [cs:tag_ptr]
.t: mov al, [cs:si]
    inc si
    test al, al
    jz .r
    out 0xE9, al
    jmp .t
.r:
    %assign k 0
    %rep 7
    call space
    mov si, [cs:order + 2 * k]
    mov eax, [bp + si]
    call hex32
    %assign k k + 1
    %endrep
    call space
    mov ax, es
    call hex16
    call space
    mov ax, [bp + 32]
    call hex16
    mov al, 10
    out 0xE9, al
    popad
    popf
    ret
order: dw 28, 16, 24, 20, 4, 0, 8
dumpmem:                    ; push seg, off, len; call
    push bp
    mov bp, sp
    pushad
    push ds
    mov ds, [bp + 8]
    mov si, [bp + 6]
    mov cx, [bp + 4]
    mov al, 'm'
    out 0xE9, al
.l: call space
    lodsb
    call hex8
    loop .l
    mov al, 10
    out 0xE9, al
    pop ds
    popad
    pop bp
    ret 6
"""


def run_qemu(cases: list[Case], workdir: Path, hard_disk: bool = False) -> list[str]:
    """Boot the probe under qemu-system-i386 -m 128 (from a floppy, or the image as the first
    hard disk) and return its lines."""
    src = workdir / "probe.asm"
    src.write_text(probe_source(cases))
    image = workdir / "probe.img"
    subprocess.run(["nasm", "-f", "bin", "-o", str(image), str(src)], check=True)
    with image.open("r+b") as f:
        f.truncate(1474560)
    out = workdir / "debugcon.txt"
    subprocess.run(
        ["qemu-system-i386", "-m", "128", "-display", "none", "-serial", "null",
         "-drive", f"file={image},format=raw,if={'ide' if hard_disk else 'floppy'}",
         "-boot", "c" if hard_disk else "a", "-no-reboot",
         "-rtc", "base=2000-01-01T00:00:00",  # the CMOS device's default start
         "-debugcon", f"file:{out}", "-device", "isa-debug-exit,iobase=0xf4,iosize=4"],
        check=False, timeout=60, capture_output=True,
    )  # fmt: skip
    return out.read_text().splitlines()


def run_bios(cases: list[Case], machine: Machine | None = None) -> list[str]:
    """The same calls on the built-in BIOS (on `machine`, by default a floppy boot), printed
    the same way."""
    m = machine if machine is not None else Machine()
    table = services(RAM_SIZE)
    lines = []
    for case in cases:
        for name in GPRS:
            m.cpu.set_reg(name, 0)
        m.cpu.set_seg("es", 0)
        for name, value in case.regs.items():
            if name == "es":
                m.cpu.set_seg("es", value)
            else:
                m.cpu.set_reg(name, value)
        m.cpu.flags = 0x0002 | (CF if case.cf else 0)
        if case.poke is not None:
            m.mem.write_phys(*case.poke)
        call = BiosCall(case.vector, m.cpu, m.mem, m.ports, m.clock.now_ns())
        result = table[case.vector](call) if case.vector >= 0 else Outcome.DONE
        if isinstance(result, Unsupported):  # what the monitor returns (bt/bios/api.py)
            if result.cf:
                m.cpu.set_flag("cf", True)
            if result.code is not None:
                m.cpu.set_reg("ah", result.code)
        else:
            assert result is Outcome.DONE, (case.tag, result)
        values = " ".join(f"{m.cpu.reg(r):08X}" for r in GPRS)
        lines.append(f"{case.tag} {values} {m.cpu.seg('es'):04X} {m.cpu.flags:04X}")
        if case.dump is not None:
            seg, off, length = case.dump
            data = m.mem.read_phys((seg << 4) + off, length)
            lines.append("m " + " ".join(f"{b:02X}" for b in data))
    return lines
