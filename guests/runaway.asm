; runaway: guests that never end by themselves or that stress the monitor's host memory, one
; per command line (`bt run runaway.elf --append MODE`):
;   unassigned  jump into unassigned memory (zeros decode as `add [eax], al`: endless new blocks)
;   blocks      2,097,152 distinct 8-byte blocks (16 MiB of generated code, needs --mem 64),
;               run once, then print how many ran and exit
;   fewblocks   the same with 65,536 blocks (for the test suite)
;   portloop    `out 0x80, al; jmp` forever: a callout per iteration, no new code
;   spin        `cli; jmp $`: chained code that never enters the monitor
;   smc         rewrite a function's immediate and call it, 100,000 times, then print the sum
%include "common.inc"

GEN_BASE   equ 0x01000000                ; generated blocks live at 16 MiB
GEN_BLOCKS equ 2097152
GEN_FEW    equ 65536
SMC_ROUNDS equ 100000

section .bss
alignb 4096
smcpage: resb 4096                       ; the rewritten function lives alone on this page

section .text
main:
    mov ebx, [mb_info]
    test dword [ebx], 4                 ; flags bit 2: a command line is present
    jz .usage
    mov esi, [ebx + 16]                 ; "KERNEL MODE": QEMU puts the file name first
.word:
    lodsb
    test al, al
    jz .usage
    cmp al, ' '
    jne .word
    mov al, [esi]
    cmp al, 'u'
    je unassigned
    cmp al, 'b'
    je blocks
    cmp al, 'f'
    je fewblocks
    cmp al, 'p'
    je portloop
    cmp al, 's'
    jne .usage
    cmp byte [esi + 1], 'p'
    je spin
    jmp smc
.usage:
    LINE "runaway: --append unassigned|blocks|portloop|spin|smc"
    EXIT 1

unassigned:
    LINE "jumping into unassigned memory at 0x40000000"
    mov eax, 0x200000                   ; the zeros' `add [eax], al` write here, in RAM
    jmp 0x40000000

fewblocks:
    mov ecx, GEN_FEW
    LINE "running 65536 distinct blocks"
    jmp generate
blocks:
    mov ecx, GEN_BLOCKS
    LINE "running 2097152 distinct blocks"
generate:
    ; Each block: six `inc eax` and `jmp short $+2` (8 bytes); the last one returns here.
    mov edi, GEN_BASE
.gen:
    mov dword [edi], 0x40404040
    mov dword [edi + 4], 0x00eb4040
    add edi, 8
    dec ecx
    jnz .gen
    mov byte [edi], 0xe9                ; jmp rel32 back to ran
    mov eax, ran
    sub eax, edi
    sub eax, 5
    mov [edi + 1], eax
    xor eax, eax
    jmp GEN_BASE
ran:
    shr eax, 1                          ; six increments a block, printed as blocks * 3
    HEX "incs/2", eax, 8
    NL
    EXIT 0

portloop:
    LINE "port I/O loop"
.again:
    out 0x80, al
    jmp .again

spin:
    LINE "spinning with interrupts disabled"
    cli
.self:
    jmp .self

smc:
    ; f: mov eax, imm32; ret - its immediate is rewritten before every call.
    mov byte [smcpage], 0xb8
    mov byte [smcpage + 5], 0xc3
    xor ebx, ebx                        ; the sum of what f returned
    mov ecx, SMC_ROUNDS
.round:
    mov [smcpage + 1], ecx
    call smcpage
    add ebx, eax
    dec ecx
    jnz .round
    HEX "smc sum", ebx, 8
    NL
    EXIT 0
