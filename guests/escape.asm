; escape: attempts to reach the monitor through the guest's own machinery. Each must give the
; guest what a PC gives it (QEMU is the reference) and leave the monitor untouched:
; a GDT and an IDT placed over the monitor's windows (0xE0000000, 0xE4000000), selectors
; beyond the GDT limit, a far jump and an IRET to forged code selectors, a data segment
; whose base points into the window, a string copy out of the window, self-modifying code
; that rewrites the instruction after a far jump's target.
%include "common.inc"

section .data
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF               ; 0x08 code
    dq 0x00CF92000000FFFF               ; 0x10 data
    dq 0xE04F92000000FFFF               ; 0x18 data, base 0xE0000000 (the translation cache)
    dq 0x00CF9A000000FFFF               ; 0x20 code
gdt_end:
gdtr:     dw gdt_end - gdt - 1
          dd gdt
idtr:     dw 256 * 8 - 1
          dd idt
evil_gdt: dw 0x47
          dd 0xE4000000                 ; where the monitor keeps its real GDT
tag:      dd 0
resume:   dd 0
buf:      times 32 db 0x5A

section .bss
align 8
idt:      resq 256
          resb 4096
stack2_top:

section .text
set_gate:                               ; EAX vector, EBX handler
    lea edi, [idt + eax * 8]
    mov [edi], bx
    mov word [edi + 2], 0x08
    mov byte [edi + 4], 0
    mov byte [edi + 5], 0x8E
    shr ebx, 16
    mov [edi + 6], bx
    ret

%macro TRY 2                            ; TRY "label", resume_label
    mov dword [tag], %%s
    mov dword [resume], %2
[section .rodata]
%%s: db %1, 0
__SECT__
%endmacro

fault:                                  ; #GP/#NP/#SS with error code: report, resume
    pop eax
    push esi
    mov esi, [tag]
    call puts
    pop esi
    PUTS " fault"
    HEX "err", eax, 4
    NL
    mov eax, [resume]
    mov [esp], eax
    iretd

main:
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al
    lgdt [gdtr]
    jmp 0x08:.k
.k:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, stack2_top
%assign v 10
%rep 4
    mov eax, v
    mov ebx, fault
    call set_gate
%assign v v+1
%endrep
    lidt [idtr]

    ; 1. A GDT over the monitor's own GDT page: the guest sees zeros there, so every
    ;    descriptor reads as null (LAR/LSL/VERR fail), exactly as on QEMU. No fault may be
    ;    taken meanwhile: delivery would need a code descriptor from that table.
    lgdt [evil_gdt]
    mov eax, 0xDEADBEEF
    mov ebx, 0x08
    lar eax, ebx
    pushfd
    pop ecx
    mov edx, 0xDEADBEEF
    lsl edx, ebx
    sgdt [buf]
    mov esi, [buf + 2]
    lgdt [gdtr]
    PUTS "GDT at 0xE4000000"
    HEX "lar", eax, 8
    and ecx, 0x40
    HEX "zf", ecx, 2
    HEX "lsl", edx, 8
    HEX "sgdt_base", esi, 8
    NL
    lidt [evil_gdt]
    sidt [buf]
    mov esi, [buf + 2]
    lidt [idtr]
    PUTS "IDT at 0xE4000000"
    HEX "sidt_base", esi, 8
    NL
    ; 2. Selectors beyond the GDT limit.
    TRY "far JMP to selector 0x0100", .r2
    jmp 0x0100:0
.r2:
    TRY "MOV GS, 0x00F8", .r3
    mov ax, 0xF8
    mov gs, ax
.r3:
    ; 3. IRET to a forged CS: a data segment, then a null selector.
    TRY "IRET to CS=0x10 (data)", .r4
    pushfd
    push dword 0x10
    push dword .r4
    iretd
.r4:
    TRY "IRET to CS=0", .r5
    pushfd
    push dword 0
    push dword .r5
    iretd
.r5:
    ; 4. A data segment based in the translation-cache window: reads give unassigned memory.
    mov ax, 0x18
    mov fs, ax
    mov eax, [fs:0]
    mov ebx, [fs:0x1000]
    mov dword [fs:0x10], 0xCCCCCCCC
    mov ecx, [fs:0x10]
    PUTS "FS based at 0xE0000000"
    HEX "read0", eax, 8
    HEX "read1000", ebx, 8
    HEX "after_write", ecx, 8
    NL
    ; 5. REP MOVSB out of the window into guest memory.
    push ds
    mov ax, 0x18
    mov ds, ax
    xor esi, esi
    mov edi, buf
    mov ecx, 16
    rep movsb
    pop ds
    mov eax, [buf]
    mov ebx, [buf + 12]
    PUTS "copied from the window"
    HEX "first", eax, 8
    HEX "last", ebx, 8
    NL
    ; 6. A far jump to a second code selector, then code rewriting the instruction that
    ;    follows the jump target before it runs.
    jmp 0x20:.far
.far:
    mov byte [.patch + 1], 7
.patch:
    mov al, 1
    movzx eax, al
    PUTS "patched after far JMP"
    HEX "al", eax, 2
    NL
    LINE "escape done"
    EXIT 0
