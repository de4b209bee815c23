; isolation: reads/writes at the linear addresses where the monitor keeps its translation cache
; (0xE0000000-0xE3FFFFFF) and its own pages (0xE4000000-...); with 128 MiB of RAM and no paging
; they are unassigned physical memory, so the guest must see what QEMU shows there.
; QEMU 7.2 (pc, -m 128) reference: every read there (byte, word, dword) returns 0, writes are
; dropped (the pattern reads back as 0), and every 4 KiB sum there is 0.
%include "common.inc"

LASTPAGE equ 0x07FFF000                 ; last 4 KiB page of 128 MiB

%macro PROBE 1                          ; read, write a pattern, read back one dword
    mov ebx, [%1]
    mov dword [%1], 0x5AA5C33C
    mov ecx, [%1]
    PUTS "probe"
    HEX "addr", %1, 8
    HEX "read", ebx, 8
    HEX "after_write", ecx, 8
    NL
%endmacro

%macro SUM4K 1                          ; dword sum of the 4 KiB at %1
    mov esi, %1
    mov ecx, 1024
    xor edx, edx
%%l:
    lodsd
    add edx, eax
    loop %%l
    PUTS "sum4k"
    HEX "addr", %1, 8
    HEX "sum", edx, 8
    NL
%endmacro

main:
    PROBE 0xE0000000
    PROBE 0xE0001000
    PROBE 0xE3FFFFFC
    PROBE 0xE4000000
    SUM4K 0xE0000000
    SUM4K 0xE4000000
    ; Byte and word reads across the window edges.
    movzx eax, byte [0xE0000000]
    movzx ebx, word [0xE3FFFFFE]
    mov ecx, [0xDFFFFFFE]               ; straddles into the window
    PUTS "edges"
    HEX "byte_e0000000", eax, 2
    HEX "word_e3fffffe", ebx, 4
    HEX "dword_dffffffe", ecx, 8
    NL
    ; Fill 4 KiB of the cache window with RET/INT3 bytes, then read it back.
    mov edi, 0xE0002000
    mov ecx, 1024
    mov eax, 0xCCC3CCC3
    rep stosd
    SUM4K 0xE0002000

    ; The last RAM page behaves as RAM: pattern written then read back.
    mov edi, LASTPAGE
    mov ecx, 1024
    mov eax, 0x01020304
.fill:
    stosd
    add eax, 0x01010101
    loop .fill
    mov eax, [LASTPAGE]
    mov ebx, [LASTPAGE + 0xFFC]
    PUTS "last RAM page"
    HEX "first", eax, 8
    HEX "last", ebx, 8
    NL
    SUM4K LASTPAGE

    LINE "isolation done"
    EXIT 0
