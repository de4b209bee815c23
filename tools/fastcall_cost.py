"""What a system call costs under bt: round trips from CPL 3 to CPL 0 and back with
SYSENTER/SYSEXIT and with INT 0x80/IRET (through the TSS), and the empty loop, as flat guests."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.flatguest import time_flat_guest  # noqa: E402

# The system call each loop makes at CPL 3 (the kernel side returns at once).
CALLS = {
    "empty loop": "",
    "sysenter/sysexit": "mov ecx, esp\n mov edx, back\n sysenter",
    "int 0x80/iret": "int 0x80",
}

_SETUP = """
    lgdt [gdtr]
    lidt [idtr]
    mov eax, kint
    mov [idt + 0x80 * 8], ax
    mov word ptr [idt + 0x80 * 8 + 2], 0x08
    mov word ptr [idt + 0x80 * 8 + 4], 0xEE00
    shr eax, 16
    mov [idt + 0x80 * 8 + 6], ax
    mov eax, tss
    mov [gdt + 0x28 + 2], ax
    shr eax, 16
    mov [gdt + 0x28 + 4], al
    mov [gdt + 0x28 + 7], ah
    mov dword ptr [tss + 4], 0x190000
    mov dword ptr [tss + 8], 0x10
    mov ax, 0x28
    ltr ax
    xor edx, edx
    mov ecx, 0x174
    mov eax, 0x08
    wrmsr
    mov ecx, 0x175
    mov eax, 0x180000
    wrmsr
    mov ecx, 0x176
    mov eax, ksysenter
    wrmsr
    pushfd
    or dword ptr [esp], 0x3000
    popfd
    mov edx, user
    mov ecx, 0x170000
    sysexit
"""
_KERNEL = """
ksysenter:
    sysexit
kint:
    iretd
gdtr:
    .word 47
    .long gdt
idtr:
    .word 0x80 * 8 + 7
    .long idt
gdt:
    .quad 0
    .quad 0x00CF9A000000FFFF
    .quad 0x00CF92000000FFFF
    .quad 0x00CFFA000000FFFF
    .quad 0x00CFF2000000FFFF
    .quad 0x0000890000000067
tss:
    .fill 104, 1, 0
idt:
"""


def run(call: str, n: int) -> float:
    """Seconds for `n` turns of a CPL 3 loop that makes `call`."""
    text = f"""{_SETUP}
    user:
        mov edi, {n}
    again:
        {call}
    back:
        dec edi
        jnz again
        mov al, 0
        out 0xf4, al
    {_KERNEL}"""
    return time_flat_guest(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20000, help="round trips (default 20000)")
    args = parser.parse_args()
    print(f"{'loop at CPL 3':<20} {'seconds':>8} {'us/turn':>8}")
    for name, call in CALLS.items():
        dt = run(call, args.n)
        print(f"{name:<20} {dt:8.3f} {dt / args.n * 1e6:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
