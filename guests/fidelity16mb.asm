; fidelity16mb: the Multiboot kernel that carries fidelity16's flat image (bin/fidelity16.bin,
; built first by guests/build.sh) and copies it to 0x1000, where its offsets are what its 16-bit
; code needs, then jumps to it in 32-bit protected mode; EDX = 1 when the command line after
; the kernel's name is "v86" (the V86 column), else 0.
%include "common.inc"

section .rodata
image:
    incbin "bin/fidelity16.bin"
image_len equ $ - image

section .text
main:
    xor edx, edx
    mov ebx, [mb_info]
    test byte [ebx], 4                  ; MBI flags bit 2: a command line is present
    jz .copy
    mov esi, [ebx + 16]
.name:
    lodsb
    test al, al
    jz .copy
    cmp al, ' '
    jne .name
    cmp dword [esi], 'v86'              ; "v86" and its NUL
    jne .copy
    inc edx
.copy:
    mov esi, image
    mov edi, 0x1000
    mov ecx, image_len
    rep movsb
    mov eax, 0x1000
    jmp eax
