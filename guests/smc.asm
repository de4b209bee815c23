; smc: self-modifying code: patch ahead in the same block, patch translated loops/jumps,
; copy code to a fresh buffer, rewrite the running block.
%include "common.inc"

section .bss
alignb 4096
codebuf: resb 4096                      ; fresh page for copied functions
acc:     resd 1

section .text
main:
    ; 1. Patch the immediate of the very next instruction (same basic block).
    mov byte [.imm + 1], 0x42
.imm:
    mov eax, 0x11111111
    PUTS "patch next insn imm"
    HEX "eax", eax, 8
    NL
    ; Same, but turn a NOP into INC EAX.
    xor eax, eax
    mov byte [.nop], 0x40
.nop:
    nop
    PUTS "patch next NOP into INC EAX"
    HEX "eax", eax, 8
    NL

    ; 2. A function called 1000 times (translated and chained), then patched.
    mov dword [acc], 0
    mov ecx, 1000
.loop1:
    call addk
    loop .loop1
    mov eax, [acc]
    PUTS "1000 calls of addk (k=1)"
    DEC "acc", eax
    mov byte [addk.k + 1], 3            ; k: 1 -> 3
    mov dword [acc], 0
    mov ecx, 1000
.loop2:
    call addk
    loop .loop2
    DEC "after patch k=3 acc", [acc]
    NL

    ; 3. A short jump taken 500 times, then its displacement retargeted.
    xor esi, esi
    mov ecx, 500
.loop3:
    call pick
    add esi, eax
    loop .loop3
    mov byte [pick.jmp + 1], pick.b - (pick.jmp + 2)
    mov ecx, 500
.loop4:
    call pick
    add esi, eax
    loop .loop4
    PUTS "jmp retargeted after 500 runs"
    DEC "sum", esi
    NL

    ; 4. Copy a function to a fresh buffer, call it; copy another over it, call again.
    mov esi, f_add
    mov edi, codebuf
    mov ecx, f_add_end - f_add
    rep movsb
    mov eax, 20
    call codebuf
    mov ebx, eax
    mov esi, f_mul
    mov edi, codebuf
    mov ecx, f_mul_end - f_mul
    rep movsb
    mov eax, 20
    call codebuf
    PUTS "copied f_add(20)"
    DEC "r", ebx
    PUTS " then f_mul(20) over it"
    DEC "r", eax
    NL
    ; 5. Loop that runs from the buffer 100 times, then one byte of it is changed.
    xor ebx, ebx
    mov ecx, 100
.loop5:
    mov eax, ecx
    call codebuf
    add ebx, eax
    loop .loop5
    mov byte [codebuf + (f_mul.k - f_mul) + 2], 5    ; imul eax, eax, 7 -> 5
    mov ecx, 100
.loop6:
    mov eax, ecx
    call codebuf
    add ebx, eax
    loop .loop6
    PUTS "buffer loop then imm patch"
    DEC "sum", ebx
    NL

    ; 6. The running block rewrites itself behind EIP: first pass adds 1, later passes 2.
    mov dword [acc], 0
    mov ecx, 4
.self:
    mov eax, 1
    add [acc], eax
    mov byte [.self + 1], 2
    dec ecx
    jnz .self
    PUTS "block rewriting itself"
    DEC "acc", [acc]
    NL
    ; 7. A block replaces a whole later instruction (mov eax, 7) with INC EAX x4 + NOP.
    mov dword [.four], 0x40404040
    mov byte [.four + 4], 0x90
    xor eax, eax
.four:
    mov eax, 7
    PUTS "5-byte instruction replaced in the same block"
    HEX "eax", eax, 8
    NL

    LINE "smc done"
    EXIT 0

addk:
.k: mov eax, 1
    add [acc], eax
    ret

pick:
.jmp:
    jmp short .a
.a: mov eax, 1
    ret
.b: mov eax, 1000
    ret

f_add:                                  ; position-independent: eax + 22
    add eax, 22
    ret
f_add_end:
f_mul:                                  ; position-independent: eax * 7
.k: imul eax, eax, 7
    ret
f_mul_end:
