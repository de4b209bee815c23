; rmbench: a real-mode compute benchmark (tools/bench.py): segment arithmetic, string
; instructions, near and far calls, 32-bit operands, as DOS-era code does them. 400 rounds of:
; fill a 4 KiB buffer in segment 0x1000 through ES (STOSW), copy it to segment 0x2000 (REP
; MOVSW with DS/ES loads), checksum it with LODSW and near calls, walk a 64-node list whose
; links are segment:offset pairs (LES), and a far call per node. Prints the checksum on COM1
; and exits through port 0xf4. No BIOS service and no interrupt: bare Unicorn runs it as it is.
bits 16
org 0x7c00

ROUNDS equ 400
COM1 equ 0x3f8

start:
    cli
%ifdef STACK_BELOW_CODE
    xor ax, ax                  ; rmbench7c: a boot sector's usual stack, 0000:7C00, on the
    mov ss, ax                  ; code's page (which then checks itself: bt/smc.py)
    mov sp, 0x7c00
%else
    mov ax, 0x9000              ; the stack at the top of conventional memory, away from the
    mov ss, ax                  ; code
    mov sp, 0xfffe
%endif
    xor ax, ax
    mov ds, ax
    cld
    jmp 0:main

; mix: BX = BX * 31 + AX (a near call per word)
mix:
    push dx
    mov dx, bx
    shl bx, 5
    sub bx, dx
    add bx, ax
    pop dx
    ret

; node_visit (far): EDX += the node's value at ES:DI + 4, rotated by the round
node_visit:
    mov eax, [es:di + 4]
    rol eax, cl
    add edx, eax
    retf

main:
    ; build the list: 64 nodes, node i at segment 0x3000 + i * 0x10, offset (i * 8) & 0xff,
    ; each holding a far pointer to the next and a 32-bit value
    xor si, si
.build:
    mov ax, si
    shl ax, 4
    add ax, 0x3000
    mov es, ax
    mov di, si
    shl di, 3
    and di, 0xff
    lea bx, [si + 1]
    and bx, 63
    mov ax, bx
    shl ax, 3
    and ax, 0xff
    mov [es:di], ax             ; next offset
    mov ax, bx
    shl ax, 4
    add ax, 0x3000
    mov [es:di + 2], ax         ; next segment
    movzx eax, si
    imul eax, eax, 0x9e3779b1
    mov [es:di + 4], eax
    inc si
    cmp si, 64
    jne .build

    xor edx, edx                ; list sum
    xor bx, bx                  ; checksum
    mov cx, ROUNDS
.round:
    push cx
    ; fill 2048 words of segment 0x1000 with round-dependent values
    mov ax, 0x1000
    mov es, ax
    xor di, di
    mov ax, cx
    push cx
    mov cx, 2048
.fill:
    stosw
    add ax, 0x3b1
    loop .fill
    pop cx
    ; copy it to segment 0x2000
    push ds
    mov ax, 0x1000
    mov ds, ax
    mov ax, 0x2000
    mov es, ax
    xor si, si
    xor di, di
    push cx
    mov cx, 2048
    rep movsw
    pop cx
    ; checksum the copy through DS = 0x2000
    mov ax, 0x2000
    mov ds, ax
    xor si, si
    push cx
    mov cx, 2048
.sum:
    lodsw
    call mix
    loop .sum
    pop cx
    pop ds
    ; walk the list: 64 nodes, a far call each
    push cx
    and cl, 31
    mov ax, 0x3000
    mov es, ax
    xor di, di
    mov si, 64
.walk:
    call 0:node_visit
    les di, [es:di]
    dec si
    jnz .walk
    pop cx
    pop cx
    loop .round

    ; print BX and EDX in hex, then exit
    mov ax, bx
    call puthex
    mov eax, edx
    shr eax, 16
    call puthex
    mov ax, dx
    call puthex
    mov al, 10
    call putc
    xor al, al
    out 0xf4, al
    hlt

puthex:
    push cx
    mov cx, 4
.digit:
    rol ax, 4
    push ax
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 7
.out:
    call putc
    pop ax
    loop .digit
    pop cx
    ret

%include "com1_16.inc"

    times 510 - ($ - $$) db 0
    dw 0xaa55
