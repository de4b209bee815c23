; Benchmark: a large amount of code run once (20,000 distinct blocks), then a checksum.
%include "common.inc"
BLOCKS equ 20000

section .text
main:
    xor eax, eax
    xor ebx, ebx
%assign i 0
%rep BLOCKS
    add eax, i
    xor ebx, eax
    rol ebx, 1
    jmp next_%+i
next_%+i:
%assign i i+1
%endrep
    PUTS "translate blocks="
    mov eax, BLOCKS
    call putdec
    HEX "checksum", ebx, 8
    NL
    EXIT 0
