; realmode: a boot sector that exercises real-mode code without the BIOS: segment arithmetic,
; near and far calls and returns, string instructions, 32-bit operands and addresses, LOOP and
; JCXZ, INT n and a #DE through its own IVT entries, IRET, PUSHF/POPF. It prints one line per
; check to COM1 (ports only) and ends at the exit port 0xf4, so it runs the same from SeaBIOS
; (qemu-system-i386 -fda) and from bt's boot-sector entry. Built: nasm -f bin (guests/build.sh).
bits 16
org 0x7c00

COM1 equ 0x3f8

start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ds, ax
    mov es, ax
    cld
    jmp 0:main                  ; CS = 0 whatever the firmware entered with

; puthex: AX as 4 hex digits, then a space
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
    mov al, ' '
    call putc
    pop cx
    ret

%include "com1_16.inc"

; puts: the string at DS:SI, NUL-terminated
puts:
    push ax
.next:
    lodsb
    test al, al
    jz .done
    call putc
    jmp .next
.done:
    pop ax
    ret

newline:
    mov al, 10
    jmp putc

farproc:                        ; reached as 07c0:(farproc - 0x7c00): CS * 16 + IP is the same
    mov ax, cs
    retf

int60:                          ; INT 60h: AX = AX * 2 + 1, flags of the caller kept by IRET
    shl ax, 1
    inc ax
    iret

de_handler:                     ; #DE: a fault; skip the 2-byte DIV it points at
    push bp
    mov bp, sp
    add word [bp + 2], 2
    mov bx, 0xdead
    pop bp
    iret

main:
    ; segment arithmetic: 1234:0010 is linear 0x12350, seen as 1235:0000 through ES
    mov ax, 0x1234
    mov ds, ax
    mov word [0x10], 0xbeef
    mov ax, 0x1235
    mov es, ax
    mov ax, [es:0]
    xor bx, bx
    mov ds, bx
    mov si, msg_seg
    call puts
    call puthex
    ; far call into CS 07c0 and back
    call 0x07c0:(farproc - 0x7c00)
    call puthex
    ; string instructions: copy 8 words, compare them, scan for a byte
    mov si, src
    mov ax, 0x0050
    mov es, ax
    xor di, di
    mov cx, 8
    rep movsw
    mov si, src
    xor di, di
    mov cx, 16
    repe cmpsb
    mov ax, cx                  ; 0 when all 16 bytes matched
    call puthex
    mov di, 0
    mov al, 0x77
    mov cx, 16
    repne scasb
    mov ax, di                  ; one past the 0x77
    call puthex
    call newline
    ; 32-bit operands and addressing in real mode
    mov si, msg_32
    call puts
    mov eax, 0x12345678
    mov ebx, 2
    mov ecx, 3
    lea edx, [ebx + ecx * 4 + 0x100]
    shr eax, 12
    call puthex
    mov ax, dx
    call puthex
    mov dword [scratch], 0xcafef00d
    mov ebx, scratch
    mov ax, [ebx + 2]
    call puthex
    ; LOOP and JCXZ
    xor ax, ax
    mov cx, 5
.l:
    add ax, cx
    loop .l
    jcxz .zero
    mov ax, 0xffff
.zero:
    call puthex
    call newline
    ; interrupts through the IVT
    mov si, msg_int
    call puts
    mov word [0x60 * 4], int60
    mov word [0x60 * 4 + 2], 0
    mov ax, 20
    stc
    int 0x60
    pushf
    call puthex                 ; 41
    pop ax
    and ax, 0x0001              ; CF survived the IRET
    call puthex
    mov word [0], de_handler
    mov word [2], 0
    xor bx, bx
    mov ax, 1
    xor dx, dx
    div bx                      ; #DE: the handler sets BX and skips it
    mov ax, bx
    call puthex
    ; PUSHF/POPF: IF and DF through the flags image
    sti
    std
    pushf
    pop ax
    and ax, 0x0600
    call puthex
    push word 0x0002
    popf
    pushf
    pop ax
    call puthex
    call newline
    xor al, al
    out 0xf4, al
    hlt

msg_seg db "seg ", 0
msg_32  db "op32 ", 0
msg_int db "int ", 0
src     db 1, 2, 3, 4, 5, 0x77, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
scratch dd 0

    times 510 - ($ - $$) db 0
    dw 0xaa55
