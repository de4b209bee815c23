; smcmixed: self-modifying code on a page that also holds the stack (a boot sector's usual
; layout: SP = 0x7C00 below its code). bt leaves such a page writable once writes keep hitting
; it and has its blocks check their own bytes (translator/selfcheck.py); the code rewritten
; here must still run as rewritten: the instruction right after the store in the same block,
; a subroutine changed between two calls, and a loop whose immediate is patched every turn.
; Prints on COM1, exits through port 0xf4. Built: nasm -f bin (guests/build.sh).
bits 16
org 0x7c00

start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ds, ax
    jmp 0:main

%include "com1_16.inc"

; hexb: AL as two hex digits and a space
hexb:
    push ax
    push cx
    mov cx, 2
.d: rol al, 4
    push ax
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe .o
    add al, 7
.o: call putc
    pop ax
    loop .d
    mov al, ' '
    call putc
    pop cx
    pop ax
    ret

value:                          ; returns AL = its immediate (patched below)
    mov al, 0x11
    ret

main:
    ; calls and pushes: the stack page (this page) is written again and again
    xor bx, bx
    mov cx, 100
.warm:
    call value
    add bl, al
    loop .warm
    mov al, bl                  ; 100 * 0x11 = 0x6a4 -> a4
    call hexb
    ; the instruction after the store, in the same block
    mov byte [.next + 1], 0x42
.next:
    mov al, 0x01
    call hexb
    ; a subroutine rewritten between two calls
    call value
    call hexb
    mov byte [value + 1], 0x77
    call value
    call hexb
    ; a loop whose immediate changes every turn: sums 1..5 through the patched code
    xor bl, bl
    mov cx, 5
.turn:
    mov [.imm + 1], cl
.imm:
    mov al, 0
    add bl, al
    loop .turn
    mov al, bl                  ; 15 = 0f
    call hexb
    mov al, 10
    call putc
    xor al, al
    out 0xf4, al
    hlt

    times 510 - ($ - $$) db 0
    dw 0xaa55
