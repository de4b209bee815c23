; keysprog.asm: KEYS.COM, a DOS-style program on the keys guest's FAT12 floppy (keys.asm loads it).
; It installs its own INT 21h on top of the BIOS (AH=01h/08h read a key with/without echo,
; 02h print DL, 09h print a '$'-terminated string, 0Ah buffered line input with backspace,
; 4Ch exit; anything else: CF=1, AX=1), then reads a line at a prompt with INT 16h AH=00h
; itself (each key echoed; at Enter the line and the scan codes are printed, and the INT 16h
; shift flags), then a second line with INT 21h AH=0Ah, printed back, and exits with AH=4Ch.
; Every prompt ends in "> ": tools/qemu_boot_ref.py types the next line of keys.keys after it.
bits 16
org 0x100
%include "macros16.inc"
EXIT_STUB equ 0x7DF0

start:
    xor ax, ax                          ; INT 21h -> our handler
    mov es, ax
    mov word [es:0x21 * 4], int21
    mov [es:0x21 * 4 + 2], cs
    push cs
    pop es
    mov ah, 0x09
    mov dx, banner
    int 0x21
    mov ax, cs
    H4 "keys: KEYS.COM at ", ax
    H4 ":", 0x100
    PL ", int 21h installed"

    ; a prompt read with INT 16h directly
    P "int16 prompt> "
    xor di, di                          ; characters read
.key:
    mov ah, 0x00
    int 0x16
    cmp al, 13
    je .line
    mov [line + di], al
    mov [scans + di], ah
    inc di
    call putc                           ; the echo
    cmp di, 60
    jb .key
.line:
    mov byte [line + di], 0
    mov [scans + di], ah                ; Enter's scan code last
    mov al, 10
    call putc
    P "int16 line='"
    mov si, line
    call puts
    P "' scans:"
    xor si, si
.scan:
    H2 " ", [scans + si]
    inc si
    cmp si, di
    jbe .scan
    mov ah, 0x02
    int 0x16
    H2 " shift=", al
    mov al, 10
    call putc

    ; a line read with INT 21h AH=0Ah
    mov ah, 0x09
    mov dx, prompt
    int 0x21
    mov ah, 0x0A
    mov dx, inbuf
    int 0x21
    mov ah, 0x02
    mov dl, 10
    int 0x21
    H2 "int21 ah=0a: count=", [inbuf + 1]
    P " text='"
    movzx bx, byte [inbuf + 1]
    mov byte [inbuf + 2 + bx], '$'
    mov ah, 0x09
    mov dx, inbuf + 2
    int 0x21
    PL "'"
    mov ah, 0x30                        ; not implemented here
    int 0x21
    setc bl
    H2 "int21 ah=30: cf=", bl
    H4 " ax=", ax
    mov al, 10
    call putc
    mov ax, 0x4C00
    int 0x21

; the INT 21h services, on top of INT 16h and io16's putc (COM1 and INT 10h)
int21:
    sti
    cmp ah, 0x02
    je .putchar
    cmp ah, 0x09
    je .string
    cmp ah, 0x01
    je .getche
    cmp ah, 0x08
    je .getch
    cmp ah, 0x0A
    je .input
    cmp ah, 0x4C
    je .exit
    mov ax, 1                           ; invalid function
    push bp
    mov bp, sp
    or byte [bp + 6], 1                 ; CF in the caller's FLAGS
    pop bp
    iret
.putchar:
    push ax
    mov al, dl
    call putc
    pop ax
    jmp .ok
.string:
    push ax
    push si
    mov si, dx
.s:
    lodsb
    cmp al, '$'
    je .s_done
    call putc
    jmp .s
.s_done:
    pop si
    pop ax
    jmp .ok
.getche:
    call .getch_al
    call putc
    jmp .ok
.getch:
    call .getch_al
    jmp .ok
.input:                                 ; DS:DX: max, count, characters, CR
    pusha
    mov si, dx
    xor cx, cx                          ; count
.in_key:
    call .getch_al
    cmp al, 13
    je .in_done
    cmp al, 8
    je .in_back
    inc cx
    cmp cl, [si]
    jae .in_full
    mov bx, cx
    mov [si + 1 + bx], al
    call putc
    jmp .in_key
.in_full:
    dec cx
    jmp .in_key
.in_back:
    jcxz .in_key
    dec cx
    mov al, 8
    call putc
    mov al, ' '
    call putc
    mov al, 8
    call putc
    jmp .in_key
.in_done:
    mov [si + 1], cl
    mov bx, cx
    mov byte [si + 2 + bx], 13
    popa
    jmp .ok
.exit:
    jmp 0:EXIT_STUB                     ; AL = the status
.ok:
    push bp
    mov bp, sp
    and byte [bp + 6], 0xFE
    pop bp
    iret
.getch_al:                              ; AL = the next key's character
    push bx
    mov bh, ah
    mov ah, 0x00
    int 0x16
    mov ah, bh
    pop bx
    ret

%include "io16.inc"

banner: db "KEYS.COM: a DOS-style program on INT 21h of its own", 10, '$'
prompt: db "int21 ah=0a> $"
inbuf: db 40, 0
    times 41 db 0
line: times 64 db 0
scans: times 64 db 0
