; ide_boot: a hard-disk boot sector checking that INT 13h and the IDE controller see one disk:
; a sector read both ways, a sector written by INT 13h and read by the ports, one written by
; the ports and read by INT 13h. nasm -f bin; tools/qemu_ide_ref.py puts it at LBA 0 of a
; 1 MiB disk whose other sectors hold the ide guest's pattern (LBA dword, (LBA + offset) & 0xFF).
; Built as guests/bin/ide_boot.bin (guests/build.sh).
bits 16
org 0x7C00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    cld
    mov [drive], dl
    mov dx, 0x3F6
    mov al, 0x02                        ; nIEN: these polled commands raise no IRQ 14
    out dx, al
    ; 1. LBA 1 by INT 13h (CHS 0/0/2) and by READ SECTORS
    mov bx, 0x8000
    mov cx, 0x0002
    mov ah, 0x02
    call int13
    mov di, 0x8200
    mov bl, 1
    mov al, 0x20
    call ata
    mov si, 0x8000
    mov di, 0x8200
    mov bx, msg_read
    call compare
    ; 2. LBA 2 written by INT 13h, read by the ports
    mov di, 0x8400
    mov al, 0xC3
    call fill
    mov bx, 0x8400
    mov cx, 0x0003
    mov ah, 0x03
    call int13
    mov di, 0x8600
    mov bl, 2
    mov al, 0x20
    call ata
    mov si, 0x8400
    mov di, 0x8600
    mov bx, msg_int13w
    call compare
    ; 3. LBA 3 written by WRITE SECTORS, read by INT 13h
    mov di, 0x8800
    mov al, 0x3C
    call fill
    mov si, 0x8800
    mov bl, 3
    mov al, 0x30
    call ata
    mov bx, 0x8A00
    mov cx, 0x0004
    mov ah, 0x02
    call int13
    mov si, 0x8800
    mov di, 0x8A00
    mov bx, msg_ataw
    call compare
    mov si, msg_done
    call puts
    mov al, 0
    out 0xF4, al
    cli
    hlt

; int13: AH = 02h/03h, one sector, CX = cylinder/sector, head 0, ES:BX the buffer.
int13:
    mov al, 1
    xor dh, dh
    mov dl, [drive]
    int 0x13
    jnc .ok
    mov si, msg_fail
    call puts
.ok:
    ret

; ata: command AL on the primary master, LBA BL, one sector; 0x20 reads into DI, 0x30 writes SI.
ata:
    push ax
    mov dx, 0x1F6
    mov al, 0xE0
    out dx, al
    mov dx, 0x1F2
    mov al, 1
    out dx, al
    inc dx
    mov al, bl
    out dx, al                          ; LBA 0-7
    inc dx
    xor al, al
    out dx, al
    inc dx
    out dx, al
    inc dx
    inc dx
    pop ax
    out dx, al                          ; the command
.busy:
    in al, dx
    test al, 0x80
    jnz .busy
    mov cx, 256
    mov dx, 0x1F0
    test al, 0x08
    jz .done
    cmp bl, 3
    je .write
    rep insw
    jmp .done
.write:
    rep outsw
    mov dx, 0x1F7
.wait:
    in al, dx
    test al, 0x80
    jnz .wait
.done:
    ret

; fill: 512 bytes at DI, byte i = AL ^ i.
fill:
    xor cx, cx
.f:
    mov ah, al
    xor ah, cl
    mov [di], ah
    inc di
    inc cx
    cmp cx, 512
    jb .f
    ret

; compare: 512 bytes at SI and DI; print the message at BX and " same" or " differ".
compare:
    mov cx, 512
    repe cmpsb
    pushf
    mov si, bx
    call puts
    popf
    mov si, msg_same
    je .p
    mov si, msg_differ
.p:
    call puts
    ret

; puts: the NUL-terminated string at SI on COM1.
puts:
    lodsb
    test al, al
    jz .e
    mov ah, al
    mov dx, 0x3FD
.w:
    in al, dx
    test al, 0x20
    jz .w
    mov dx, 0x3F8
    mov al, ah
    out dx, al
    jmp puts
.e:
    ret

drive: db 0
msg_read: db "LBA 1 by INT 13h and by READ SECTORS:", 0
msg_int13w: db "LBA 2 written by INT 13h, read by the ports:", 0
msg_ataw: db "LBA 3 written by WRITE SECTORS, read by INT 13h:", 0
msg_same: db " same", 10, 0
msg_differ: db " differ", 10, 0
msg_fail: db "INT 13h failed", 10, 0
msg_done: db "ide_boot done", 10, 0
times 510 - ($ - $$) db 0
    dw 0xAA55
