; segments: MOV/PUSH/POP of segment registers, far JMP/CALL/RET, a based segment, LAR/LSL/VERR/VERW.
%include "common.inc"

BASED equ 0x00300000                    ; base of selector 0x18 (plain RAM, unused by the image)

section .data
align 8
gdt:
    dq 0                                ; 0x00 null
    dq 0x00CF9A000000FFFF               ; 0x08 code, flat, 32-bit
    dq 0x00CF92000000FFFF               ; 0x10 data, flat
    dq 0x004092300000FFFF               ; 0x18 data, base 0x300000, limit 0xffff bytes
    dw 0x0067, 0, 0x8900, 0             ; 0x20 32-bit TSS, available (base patched)
    dw 0x000F, 0, 0x8200, 0             ; 0x28 LDT (base patched)
    dq 0x00CF9A000000FFFF               ; 0x30 code alias, flat
    dq 0x00CF90000000FFFF               ; 0x38 data, read-only
    dq 0x00CF98000000FFFF               ; 0x40 code, execute-only
    dq 0x00CFF2000000FFFF               ; 0x48 data, DPL 3
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
align 8
ldt:    dq 0
        dq 0x00CF92000000FFFF           ; LDT selector 0x0c: flat data
align 16
tss:    times 0x68 db 0
farptr_jmp:  dd far_jmp_mem_target
             dw 0x30
farptr_call: dd far_func
             dw 0x30

section .bss
word32: resd 1

section .text
set_base:                               ; descriptor at [edi] gets base EAX
    mov [edi + 2], ax
    shr eax, 16
    mov [edi + 4], al
    mov [edi + 7], ah
    ret

; PUSH_TEST "name", insn : push a segment register onto 0xa5 filler, print value and ESP change.
%macro PUSH_TEST 2
    mov dword [esp - 4], 0xA5A5A5A5
    mov ebx, esp
    %2
    mov ecx, esp
    mov edx, [ebx - 4]                  ; the whole dword below the old ESP
    mov esp, ebx
    sub ebx, ecx
    PUTS %1
    HEX "stack_dword", edx, 8
    DEC "esp_delta", ebx
    NL
%endmacro

; PROBE insn, sel : run LAR/LSL/VERR/VERW on sel, print EAX (preset 0xdeadbeef) and ZF.
%macro PROBE 2
    mov ecx, %2
    mov eax, 0xDEADBEEF
    %ifidn %1, verr
    verr cx
    %elifidn %1, verw
    verw cx
    %else
    %1 eax, ecx
    %endif
    setz dl
    movzx edx, dl
    PUTS %str(%1)
    HEX "sel", ecx, 4
    HEX "eax", eax, 8
    DEC "zf", edx
    NL
%endmacro

main:
    ; MOV from segment registers as left by the loader.
    mov eax, 0xFFFFFFFF
    mov eax, cs
    PUTS "entry MOV r32 from"
    HEX "cs", eax, 8
    mov eax, ss
    HEX "ss", eax, 8
    mov eax, ds
    HEX "ds", eax, 8
    mov eax, es
    HEX "es", eax, 8
    mov eax, fs
    HEX "fs", eax, 8
    mov eax, gs
    HEX "gs", eax, 8
    NL

    mov eax, tss
    mov edi, gdt + 0x20
    call set_base
    mov eax, ldt
    mov edi, gdt + 0x28
    call set_base
    lgdt [gdtr]
    jmp 0x08:.cs_loaded                 ; far JMP ptr16:32
.cs_loaded:
    LINE "far JMP ptr16:32 to 0x08 reached"
    mov ax, 0x10                        ; MOV to data segment registers
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov ax, 0x28
    lldt ax
    mov ax, 0x20
    ltr ax

    ; MOV from segment registers: r32 (zero-extended), r16 (keeps upper half), m16.
    mov eax, 0xFFFFFFFF
    mov eax, cs
    PUTS "MOV r32,cs"
    HEX "eax", eax, 8
    NL
    mov eax, 0xFFFFFFFF
    mov ax, ds
    PUTS "MOV r16,ds"
    HEX "eax", eax, 8
    NL
    mov dword [word32], 0xFFFFFFFF
    mov [word32], ss
    PUTS "MOV m16,ss"
    HEX "dword", [word32], 8
    NL
    mov dword [word32], 0xFFFFFFFF
    o32 mov [word32], es                ; 0x66-free form; still stores 16 bits
    PUTS "MOV m,es (o32)"
    HEX "dword", [word32], 8
    NL

    ; PUSH segment registers, 32-bit and with 0x66.  QEMU 7.2 writes the selector
    ; zero-extended to 32 bits (recent Intel CPUs write only 16 bits and keep 0xa5a5 above).
    PUSH_TEST "PUSH cs", {push cs}
    PUSH_TEST "PUSH ss", {push ss}
    PUSH_TEST "PUSH ds", {push ds}
    PUSH_TEST "PUSH es", {push es}
    PUSH_TEST "PUSH fs", {push fs}
    PUSH_TEST "PUSH gs", {push gs}
    PUSH_TEST "o16 PUSH cs", {o16 push cs}
    PUSH_TEST "o16 PUSH ss", {o16 push ss}
    PUSH_TEST "o16 PUSH ds", {o16 push ds}
    PUSH_TEST "o16 PUSH es", {o16 push es}
    PUSH_TEST "o16 PUSH fs", {o16 push fs}
    PUSH_TEST "o16 PUSH gs", {o16 push gs}

    ; POP segment registers.
    push dword 0x18
    pop fs
    push dword 0x0C                     ; LDT selector
    pop gs
    push dword 0x10
    pop es
    push dword 0x10
    mov ebx, esp
    pop ds
    mov ecx, esp
    sub ecx, ebx
    push dword 0x10
    pop ss
    mov eax, fs
    PUTS "POP"
    HEX "fs", eax, 4
    mov eax, gs
    HEX "gs", eax, 4
    mov eax, es
    HEX "es", eax, 4
    mov eax, ds
    HEX "ds", eax, 4
    mov eax, ss
    HEX "ss", eax, 4
    DEC "esp_delta", ecx
    NL
    push word 0x0048                    ; 16-bit POP of a DPL-3 data selector at CPL 0
    mov ebx, esp
    o16 pop gs
    mov ecx, esp
    sub ecx, ebx
    mov eax, gs
    PUTS "o16 POP gs"
    HEX "gs", eax, 4
    DEC "esp_delta", ecx
    NL
    xor eax, eax                        ; null selector into data registers is legal
    mov fs, ax
    mov gs, ax
    mov eax, 0xFFFFFFFF
    mov eax, fs
    PUTS "MOV fs,0"
    HEX "fs", eax, 8
    NL

    ; Segment with a non-zero base.
    mov dword [BASED + 0x10], 0x12345678
    mov ax, 0x18
    mov fs, ax
    mov eax, [fs:0x10]
    mov dword [fs:0x20], 0xCAFEBABE
    mov ebx, [BASED + 0x20]
    mov es, [sel18]                    ; MOV sreg from memory
    mov ecx, [es:0x10]
    mov dx, 0x10
    mov es, dx
    PUTS "based segment 0x18"
    HEX "fs:0x10", eax, 8
    HEX "flat_0x300020", ebx, 8
    HEX "es:0x10", ecx, 8
    NL
    mov ax, 0x10
    mov fs, ax

    ; Far JMP through memory (m16:32) to the alias code selector and back.
    jmp far [farptr_jmp]
far_jmp_mem_target:
    mov eax, cs
    PUTS "far JMP m16:32"
    HEX "cs", eax, 4
    NL
    jmp 0x08:.back08
.back08:
    mov eax, cs
    PUTS "far JMP back"
    HEX "cs", eax, 4
    NL

    ; Far CALL ptr16:32 and m16:32, RETF and RETF imm16.
    mov dword [esp - 4], 0xA5A5A5A5
    mov dword [esp - 8], 0xA5A5A5A5
    mov [saved_esp], esp
    call 0x30:far_func
    mov ebx, [saved_esp]
    sub ebx, esp
    PUTS "after far CALL ptr16:32 + RETF"
    DEC "esp_delta", ebx
    mov eax, cs
    HEX "cs", eax, 4
    NL
    push dword 0x11111111               ; two arguments, popped by RETF 8
    push dword 0x22222222
    mov [saved_esp], esp
    call far [farptr_call_imm]
    mov ebx, esp
    sub ebx, [saved_esp]
    PUTS "after far CALL m16:32 + RETF 8"
    DEC "esp_delta", ebx
    NL
    ; Far RET used as a jump to another code selector.
    push dword 0x30
    push dword .via_retf
    retf
.via_retf:
    mov eax, cs
    PUTS "RETF to 0x30"
    HEX "cs", eax, 4
    NL
    jmp 0x08:.home
.home:

    ; LAR / LSL / VERR / VERW.  Note: QEMU 7.2 sets the accessed bit when it loads a data
    ; segment but not on the far JMP that loaded CS, so LAR 0x08 shows type 0x9a.
    PROBE lar, 0x0000                   ; null
    PROBE lar, 0x0008                   ; code
    PROBE lar, 0x0010                   ; data
    PROBE lar, 0x0018                   ; based data, byte granular
    PROBE lar, 0x0020                   ; TSS (busy after LTR)
    PROBE lar, 0x0028                   ; LDT descriptor
    PROBE lar, 0x0048                   ; DPL 3 data
    PROBE lar, 0x0050                   ; beyond the GDT limit
    PROBE lar, 0x000C                   ; LDT selector
    PROBE lar, 0x000F                   ; LDT selector, RPL 3
    PROBE lar, 0x0014                   ; LDT selector past the LDT limit
    PROBE lsl, 0x0000
    PROBE lsl, 0x0008
    PROBE lsl, 0x0010
    PROBE lsl, 0x0018
    PROBE lsl, 0x0020
    PROBE lsl, 0x0028
    PROBE lsl, 0x0050
    PROBE lsl, 0x000C
    PROBE verr, 0x0000
    PROBE verr, 0x0008
    PROBE verr, 0x0010
    PROBE verr, 0x0020
    PROBE verr, 0x0038                  ; read-only data
    PROBE verr, 0x0040                  ; execute-only code
    PROBE verr, 0x0050
    PROBE verr, 0x000C
    PROBE verw, 0x0000
    PROBE verw, 0x0008
    PROBE verw, 0x0010
    PROBE verw, 0x0020
    PROBE verw, 0x0038
    PROBE verw, 0x0048                  ; DPL 3 data, RPL 0: writable
    PROBE verw, 0x0050
    PROBE verw, 0x000C
    mov ecx, 0x10                       ; 16-bit LAR keeps the upper half of EAX
    mov eax, 0xDEADBEEF
    o16 lar ax, cx
    PUTS "o16 LAR ax,0x10"
    HEX "eax", eax, 8
    NL
    mov ecx, 0x18
    mov eax, 0xDEADBEEF
    o16 lsl ax, cx
    PUTS "o16 LSL ax,0x18"
    HEX "eax", eax, 8
    NL

    LINE "segments done"
    EXIT 0

sel18: dw 0x18

; Called with CS=0x30: prints CS and the far return frame, then RETF.
far_func:
    mov eax, cs
    mov ebx, [esp]
    mov ecx, [esp + 4]
    PUTS "in far_func"
    HEX "cs", eax, 4
    HEX "ret_eip", ebx, 8
    HEX "ret_cs_dword", ecx, 8
    NL
    retf

far_func_imm:
    mov eax, cs
    mov ecx, [esp + 4]
    mov edx, [esp + 8]
    PUTS "in far_func_imm"
    HEX "cs", eax, 4
    HEX "ret_cs_dword", ecx, 8
    HEX "arg", edx, 8
    NL
    retf 8

section .data
farptr_call_imm: dd far_func_imm
                 dw 0x30
saved_esp:       dd 0
