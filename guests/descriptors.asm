; descriptors: SGDT/SIDT/SLDT/STR at entry and after LGDT/LIDT/LLDT/LTR, SMSW forms, LMSW.
%include "common.inc"

section .data
align 8
gdt:
    dq 0                                ; 0x00 null
    dq 0x00CF9A000000FFFF               ; 0x08 code, flat, 32-bit
    dq 0x00CF92000000FFFF               ; 0x10 data, flat
    dw 0x000F, 0, 0x8200, 0             ; 0x18 LDT (base patched at run time)
    dw 0x0067, 0, 0x8900, 0             ; 0x20 32-bit TSS, available (base patched)
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
gdtr16: dw gdt_end - gdt - 1            ; LGDT with 0x66: only 24 bits of base are used
        dd gdt + 0xAB000000
align 8
idt:    times 32 dq 0                   ; never used: nothing here raises an interrupt
idtr:   dw 32 * 8 - 1
        dd idt
align 8
ldt:    dq 0
        dq 0x00CF92000000FFFF           ; LDT selector 0x000c: flat data
align 16
tss:    times 0x68 db 0

section .bss
dtbuf:  resb 8
word32: resd 1

section .text
; SAVE_DT insn : run "insn [dtbuf]" and print base/limit of the 6-byte result.
%macro SHOW_DT 2
    mov dword [dtbuf], 0xEEEEEEEE
    mov dword [dtbuf + 4], 0xEEEEEEEE
    %1 [dtbuf]
    movzx eax, word [dtbuf]
    PUTS %2
    HEX "base", [dtbuf + 2], 8
    HEX "limit", eax, 4
    NL
%endmacro

; patch base of the descriptor at [edi] with EAX
set_base:
    mov [edi + 2], ax
    shr eax, 16
    mov [edi + 4], al
    mov [edi + 7], ah
    ret

main:
    SHOW_DT sgdt, "SGDT at entry"
    SHOW_DT sidt, "SIDT at entry"
    mov eax, 0xFFFFFFFF
    sldt eax
    PUTS "SLDT r32 at entry"
    HEX "value", eax, 8
    NL
    mov eax, 0xFFFFFFFF
    str eax
    PUTS "STR r32 at entry"
    HEX "value", eax, 8
    NL

    ; SMSW: r16 keeps the upper half, r32 gets all of CR0 on QEMU, m16 writes 2 bytes.
    mov eax, 0xFFFFFFFF
    smsw ax
    PUTS "SMSW r16"
    HEX "eax", eax, 8
    NL
    mov eax, 0xFFFFFFFF
    smsw eax
    PUTS "SMSW r32"
    HEX "eax", eax, 8
    NL
    mov dword [word32], 0xFFFFFFFF
    smsw [word32]
    PUTS "SMSW m16"
    HEX "dword", [word32], 8
    NL
    mov eax, cr0
    PUTS "MOV from CR0"
    HEX "cr0", eax, 8
    NL

    ; Own tables.
    mov eax, ldt
    mov edi, gdt + 0x18
    call set_base
    mov eax, tss
    mov edi, gdt + 0x20
    call set_base
    lgdt [gdtr]
    jmp 0x08:.reloaded
.reloaded:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    SHOW_DT sgdt, "SGDT after LGDT"
    mov eax, gdt
    PUTS "gdt symbol"
    HEX "addr", eax, 8
    NL
    lidt [idtr]
    SHOW_DT sidt, "SIDT after LIDT"
    mov eax, idt
    PUTS "idt symbol"
    HEX "addr", eax, 8
    NL
    o16 lgdt [gdtr16]
    SHOW_DT sgdt, "SGDT after o16 LGDT (base 0xab......)"
    lgdt [gdtr]
    SHOW_DT o16 sgdt, "o16 SGDT"

    mov ax, 0x18
    lldt ax
    mov eax, 0xFFFFFFFF
    sldt eax
    PUTS "SLDT r32 after LLDT 0x18"
    HEX "value", eax, 8
    NL
    mov eax, 0xFFFFFFFF
    sldt ax
    PUTS "SLDT r16"
    HEX "eax", eax, 8
    NL
    mov dword [word32], 0xFFFFFFFF
    sldt [word32]
    PUTS "SLDT m16"
    HEX "dword", [word32], 8
    NL
    mov ax, 0x0C                        ; reach through the LDT
    mov fs, ax
    mov eax, fs
    PUTS "MOV FS from LDT selector"
    HEX "fs", eax, 8
    NL
    mov ax, 0x10
    mov fs, ax

    mov ax, 0x20
    ltr ax
    mov eax, 0xFFFFFFFF
    str eax
    PUTS "STR r32 after LTR 0x20"
    HEX "value", eax, 8
    NL
    mov dword [word32], 0xFFFFFFFF
    str [word32]
    PUTS "STR m16"
    HEX "dword", [word32], 8
    NL
    ; LTR marks the descriptor busy (type 9 -> 0xb) in guest memory.
    movzx eax, byte [gdt + 0x20 + 5]
    PUTS "TSS descriptor access byte after LTR"
    HEX "value", eax, 2
    NL
    mov eax, [gdt + 0x20 + 4]
    PUTS "TSS descriptor high dword"
    HEX "value", eax, 8
    NL

    ; LMSW sets MP/EM/TS but cannot clear PE.
    mov ax, 0x000E
    lmsw ax
    mov eax, 0xFFFFFFFF
    smsw eax
    PUTS "LMSW 0x000e then SMSW r32"
    HEX "value", eax, 8
    NL
    mov word [word32], 0x0000
    lmsw [word32]
    mov eax, cr0
    PUTS "LMSW m16 0x0000 then CR0"
    HEX "value", eax, 8
    NL
    mov ax, 0xFFF1                      ; only the low 4 bits are loaded
    lmsw ax
    mov eax, cr0
    PUTS "LMSW 0xfff1 then CR0"
    HEX "value", eax, 8
    NL
    mov ax, 0x0001
    lmsw ax
    mov eax, 0xFFFFFFFF
    smsw ax
    PUTS "LMSW 0x0001 then SMSW r16"
    HEX "eax", eax, 8
    NL

    LINE "descriptors done"
    EXIT 0
