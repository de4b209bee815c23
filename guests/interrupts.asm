; interrupts: own IDT with interrupt and trap gates; INT n, INT3, INTO, IRET, nested INT, CS switch.
%include "common.inc"

INTGATE  equ 0x8E                       ; present, DPL 0, 32-bit interrupt gate
TRAPGATE equ 0x8F                       ; present, DPL 0, 32-bit trap gate

section .data
align 8
gdt:
    dq 0                                ; 0x00 null
    dq 0x00CF9A000000FFFF               ; 0x08 code, flat
    dq 0x00CF92000000FFFF               ; 0x10 data, flat
    dq 0x00CF9A000000FFFF               ; 0x18 code alias: a handler running on another CS
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256 * 8 - 1
        dd idt
depth:  dd 0

section .bss
align 8
idt:    resq 256                        ; zero = not present: stray vectors would triple-fault

section .text
; set_gate: EAX vector, EBX handler, CX selector, DL type/attributes.
set_gate:
    lea edi, [idt + eax * 8]
    mov [edi], bx
    mov [edi + 2], cx
    mov byte [edi + 4], 0
    mov [edi + 5], dl
    shr ebx, 16
    mov [edi + 6], bx
    ret

%macro GATE 4                           ; GATE vector, handler, selector, type
    mov eax, %1
    mov ebx, %2
    mov cx, %3
    mov dl, %4
    call set_gate
%endmacro

%macro STUB 1                           ; handler entry: push the vector, go to report
h%1:
    push dword %1
    jmp report
%endmacro

main:
    mov al, 0xFF                        ; no external IRQs while IF=1
    out 0x21, al
    out 0xA1, al
    lgdt [gdtr]
    jmp 0x08:.cs
.cs:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    GATE 3, h3, 0x08, INTGATE
    GATE 4, h4, 0x08, INTGATE
    GATE 0x30, h48, 0x08, INTGATE
    GATE 0x31, h49, 0x08, TRAPGATE
    GATE 0x32, h50, 0x18, INTGATE
    GATE 0x33, nest51, 0x08, TRAPGATE
    GATE 0x34, setcf52, 0x08, INTGATE
    lidt [idtr]

    cli
    LINE "INT 0x30 (interrupt gate) with IF=0"
    int 0x30
    sti
    LINE "INT 0x30 (interrupt gate) with IF=1"
    int 0x30
    pushfd
    pop edx
    PUTS "after IRET"
    HEX "eflags", edx, 8
    NL
    LINE "INT 0x31 (trap gate) with IF=1"
    int 0x31
    LINE "INT3 (0xcc)"
    int3
    LINE "INT 3 (0xcd 0x03)"
    int 3
    LINE "INTO with OF=1"
    mov al, 0x7F
    add al, 1
    into
    LINE "INTO with OF=0"
    xor eax, eax
    into
    LINE "INTO with OF=0 not taken"
    LINE "INT 0x32 (gate to CS 0x18)"
    int 0x32
    mov eax, cs
    PUTS "back after IRET"
    HEX "cs", eax, 4
    NL
    LINE "INT 0x33 (trap gate, nests INT 0x30)"
    int 0x33
    LINE "INT 0x34 (handler sets CF in the saved EFLAGS)"
    clc
    int 0x34
    setc al
    movzx eax, al
    PUTS "after IRET"
    DEC "cf", eax
    NL
    cli
    LINE "interrupts done"
    EXIT 0

STUB 3
STUB 4
STUB 48
STUB 49
STUB 50

; Prints what the handler sees: [esp] vector, then the CPU's EIP, CS, EFLAGS frame.
report:
    inc dword [depth]
    pushad
    pushfd
    pop edx
    shr edx, 9
    and edx, 1
    mov eax, cs
    mov ebx, [esp + 32]
    mov ecx, [esp + 40]
    mov esi, [esp + 44]
    mov edi, [esp + 36]
    PUTS "  handler"
    HEX "vector", ebx, 2
    DEC "if_inside", edx
    HEX "cs_now", eax, 4
    HEX "pushed_cs", ecx, 8
    HEX "pushed_eflags", esi, 8
    HEX "pushed_eip", edi, 8
    DEC "depth", [depth]
    NL
    popad
    dec dword [depth]
    add esp, 4
    iret

nest51:
    push dword 0x33
    inc dword [depth]
    pushad
    LINE "  handler 0x33 enters, issues INT 0x30"
    popad
    int 0x30
    pushad
    LINE "  handler 0x33 resumes after nested IRET"
    popad
    dec dword [depth]
    jmp report

setcf52:
    or dword [esp + 8], 1               ; CF in the saved EFLAGS
    iret
