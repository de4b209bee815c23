; crt0: Multiboot header and entry stub shared by the C guests; calls kmain(magic, info).
bits 32
MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00000003                 ; page-align modules, request memory info

section .multiboot
align 4
    dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

section .bss
align 16
    resb 65536
stack_top:

section .text
global _start
extern kmain
_start:
    mov esp, stack_top
    cld
    push ebx                            ; Multiboot info
    push eax                            ; magic
    call kmain
.halt:                                  ; kmain exits via port 0xf4; never reached
    cli
    hlt
    jmp .halt
