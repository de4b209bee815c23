; Benchmark: a kernel-style loop doing what spinlocks and context switches do (PUSHFD; CLI;
; ...; POPFD, MOV from CS and SS, SGDT, SMSW, a far return), then prints a checksum.
%include "common.inc"
ROUNDS equ 200000

section .text
main:
    xor esi, esi                        ; checksum
    mov ecx, ROUNDS
.loop:
    pushfd                              ; spin_lock_irqsave
    cli
    add esi, ecx                        ; the critical section
    rol esi, 3
    popfd                               ; spin_unlock_irqrestore
    mov eax, cs                         ; context-switch bookkeeping
    add esi, eax
    mov eax, ss
    xor esi, eax
    sgdt [gdtr_store]
    add esi, [gdtr_store + 2]
    smsw eax
    add esi, eax
    push cs                             ; far return to the next instruction
    push dword .back
    retf
.back:
    dec ecx
    jnz .loop
    PUTS "kernelish rounds="
    mov eax, ROUNDS
    call putdec
    HEX "checksum", esi, 8
    NL
    EXIT 0

section .bss
gdtr_store: resb 6
