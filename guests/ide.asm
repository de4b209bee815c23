; ide: the PC's two IDE channels: signatures, IDENTIFY, CHS and LBA reads by polling and by IRQ 14,
; READ/WRITE MULTIPLE with REP INSW/OUTSW, 32-bit data, LBA48, the error cases and an absent
; position. Disks (tools/qemu_ide_ref.py makes them): hda 4 MiB and hdc 1 MiB, no hdb or hdd (a
; disk at hdc keeps QEMU from putting its default CD-ROM there); each sector holds its LBA as a
; dword, then bytes (LBA + offset) & 0xFF.
%include "common.inc"

INTGATE equ 0x8E

section .data
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF               ; 0x08 code, flat
    dq 0x00CF92000000FFFF               ; 0x10 data, flat
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256 * 8 - 1
        dd idt
base:   dd 0x1F0                        ; the channel's task file
ctrl:   dd 0x3F6                        ; its control block
irqs:   dd 0                            ; IRQ 14/15 taken
alt_only: dd 0                          ; the handler reads alternate status, not status
regnames: db "st", 0, "er", 0, "nc", 0, "sn", 0, "cl", 0, "ch", 0, "dh", 0

section .bss
align 8
idt:    resq 256
buf:    resb 16 * 512

section .text
; set_gate: EAX vector, EBX handler.
set_gate:
    lea edi, [idt + eax * 8]
    mov [edi], bx
    mov word [edi + 2], 0x08
    mov byte [edi + 4], 0
    mov byte [edi + 5], INTGATE
    shr ebx, 16
    mov [edi + 6], bx
    ret

irq_handler:                            ; IRQ 14 and 15: acknowledge the drive, then both PICs
    push eax
    push edx
    mov edx, [base]
    add edx, 7
    cmp dword [alt_only], 0
    je .status
    mov edx, [ctrl]
.status:
    in al, dx
    inc dword [irqs]
    mov al, 0x20
    out 0xA0, al
    out 0x20, al
    pop edx
    pop eax
    iret

; out_reg: write AL to task-file register ECX (1-7).
out_reg:
    push edx
    mov edx, [base]
    add edx, ecx
    out dx, al
    pop edx
    ret

; in_reg: AL = task-file register ECX.
in_reg:
    mov edx, [base]
    add edx, ecx
    in al, dx
    ret

; set_ctrl: device control = AL.
set_ctrl:
    push edx
    mov edx, [ctrl]
    out dx, al
    pop edx
    ret

; alt: AL = alternate status.
alt:
    push edx
    mov edx, [ctrl]
    in al, dx
    pop edx
    ret

; wait_ready: until BSY is clear in the alternate status. Unbounded: QEMU completes reads,
; writes and flushes in its block layer, after a delay that depends on the host's load.
wait_ready:
    call alt
    test al, 0x80
    jnz wait_ready
    ret

; regs: print the alternate status and registers 1-6 as " st=.. er=.. nc=.. sn=.. cl=.. ch=.. dh=..".
regs:
    pushad
    mov esi, regnames
    call alt
    movzx eax, al
    call field
    mov ecx, 1
.next:
    call in_reg
    movzx eax, al
    call field
    inc ecx
    cmp ecx, 7
    jb .next
    NL
    popad
    ret

; field: print " <name at ESI>=0x<AL>", ESI to the next name.
field:
    push eax
    mov al, ' '
    call putc
    call puts
    add esi, 3
    mov al, '='
    call putc
    pop eax
    push ecx
    mov ecx, 2
    call puthex
    pop ecx
    ret

; command: device/head AH, count BL, LBA/CHS bytes in BH (sector), DL (cyl low), DH (cyl high),
; command AL. Registers 2-6 then 7.
command:
    pushad
    push eax
    mov ecx, 6
    mov al, ah
    call out_reg
    mov ecx, 2
    mov al, bl
    call out_reg
    mov ecx, 3
    mov al, bh
    call out_reg
    mov ecx, 4
    mov al, dl
    call out_reg
    mov ecx, 5
    mov al, dh
    call out_reg
    pop eax
    mov ecx, 7
    call out_reg
    popad
    ret

; sum_block: EAX = the sum of the ECX dwords at ESI (a sector's fingerprint).
sum_block:
    push esi
    push ecx
    push edx
    xor edx, edx
.add:
    add edx, [esi]
    add esi, 4
    loop .add
    mov eax, edx
    pop edx
    pop ecx
    pop esi
    ret

; show_buf: " first=<dword 0> sum=<sum of ECX sectors at buf>".
show_buf:
    pushad
    HEX "first", [buf], 8
    shl ecx, 7
    mov esi, buf
    call sum_block
    HEX "sum", eax, 8
    NL
    popad
    ret

; read_words: ECX words from the data port into buf + EDI (IN AX one at a time).
read_words:
    pushad
    mov edx, [base]
    add edi, buf
.w:
    in ax, dx
    stosw
    loop .w
    popad
    ret

; wait_irq: sti; hlt until IRQ count reaches EAX (bounded), then cli.
wait_irq:
    push ecx
    mov ecx, 1000
.h:
    cmp [irqs], eax
    jae .ok
    sti
    hlt
    cli
    loop .h
.ok:
    cli
    pop ecx
    ret

; irq_sector: wait for IRQ count EAX, REP INSW one sector into buf, print it and the registers.
irq_sector:
    pushad
    call wait_irq
    mov edi, buf
    mov edx, [base]
    mov ecx, 256
    rep insw
    mov ecx, 1
    call show_buf
    call regs
    popad
    ret

; select: channel ECX (0, 1).
select_channel:
    mov dword [base], 0x1F0
    mov dword [ctrl], 0x3F6
    test ecx, ecx
    jz .p
    mov dword [base], 0x170
    mov dword [ctrl], 0x376
.p:
    ret

; position: ECX = 0-3: channel and DEV bit; prints "posN".
position:
    pushad
    push ecx
    shr ecx, 1
    call select_channel
    pop ecx
    mov al, 0xA0
    test ecx, 1
    jz .m
    mov al, 0xB0
.m:
    push ecx
    mov ecx, 6
    call out_reg
    pop ecx
    PUTS "pos"
    mov eax, ecx
    call putdec
    popad
    ret

main:
    lgdt [gdtr]
    jmp 0x08:.cs
.cs:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, 0x2E
    mov ebx, irq_handler
    call set_gate
    mov eax, 0x2F
    mov ebx, irq_handler
    call set_gate
    lidt [idtr]
    ; The 8259 pair at 0x20/0x28, only the cascade and IRQ 14/15 unmasked.
    mov al, 0x11
    out 0x20, al
    out 0xA0, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x28
    out 0xA1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xA1, al
    mov al, 1
    out 0x21, al
    out 0xA1, al
    mov al, 0xFB
    out 0x21, al
    mov al, 0x3F
    out 0xA1, al

    LINE "the channels as the firmware left them: the selected position, then the HOB bytes"
    xor ecx, ecx
.post:
    call select_channel
    PUTS "ch"
    mov eax, ecx
    call putdec
    call regs
    mov al, 0x80
    call set_ctrl
    PUTS " hob"
    call regs
    xor al, al
    call set_ctrl
    inc ecx
    cmp ecx, 2
    jb .post
    LINE "soft reset of both channels, then each position's signature"
    xor ecx, ecx
.reset:
    call select_channel
    mov al, 0xA0                        ; the master: the firmware left the slave selected,
    push ecx                            ; whose absence would hide the reset's BSY
    mov ecx, 6
    call out_reg
    pop ecx
    mov al, 0x06                        ; SRST, nIEN
    call set_ctrl
    mov al, 0x02
    call set_ctrl
    call wait_ready
    inc ecx
    cmp ecx, 2
    jb .reset
    xor ecx, ecx
.sig:
    call position
    call regs
    inc ecx
    cmp ecx, 4
    jb .sig

    LINE "IDENTIFY DEVICE at each position"
    xor ecx, ecx
.ident:
    call position
    mov ah, 0xA0
    test ecx, 1
    jz .im
    mov ah, 0xB0
.im:
    xor ebx, ebx
    xor edx, edx
    mov al, 0xEC
    call command
    call wait_ready
    call regs
    call alt
    test al, 0x08
    jz .inext
    push ecx
    mov ecx, 256
    xor edi, edi
    call read_words
    xor esi, esi
.row:
    movzx eax, word [buf + esi * 2]
    push ecx
    mov ecx, 4
    call puthex
    pop ecx
    inc esi
    test esi, 15
    jnz .sp
    NL
    jmp .more
.sp:
    mov al, ' '
    call putc
.more:
    cmp esi, 256
    jb .row
    pop ecx
    PUTS " after"
    call regs
.inext:
    inc ecx
    cmp ecx, 4
    jb .ident

    LINE "hda: READ SECTORS by CHS C=1 H=2 S=3, count 2, polling, IN AX"
    xor ecx, ecx
    call position
    NL
    mov ah, 0xA2
    mov bl, 2
    mov bh, 3
    mov dx, 0x0001
    mov al, 0x20
    call command
    xor edi, edi
    mov esi, 2
.chs:
    call wait_ready
    call regs
    mov ecx, 256
    call read_words
    add edi, 512
    dec esi
    jnz .chs
    mov ecx, 2
    call show_buf
    call regs

    LINE "hda: READ SECTORS by LBA 100, count 3, IRQ 14, REP INSW"
    xor al, al                          ; nIEN clear: interrupts on
    call set_ctrl
    mov dword [irqs], 0
    mov ah, 0xE0
    mov bl, 3
    mov bh, 100
    xor edx, edx
    mov al, 0x20
    call command
    mov edi, buf
    mov ebx, 1
.lba:
    mov eax, ebx
    call wait_irq
    mov edx, [base]
    mov ecx, 256
    rep insw
    inc ebx
    cmp ebx, 4
    jb .lba
    DEC "irqs", [irqs]
    NL
    mov ecx, 3
    call show_buf
    call regs

    LINE "hda: the handler reads alternate status only: the line stays high, one IRQ"
    mov dword [irqs], 0
    mov dword [alt_only], 1
    mov ah, 0xE0
    mov bl, 2
    mov bh, 10
    xor edx, edx
    mov al, 0x20
    call command
    mov eax, 1
    call wait_irq
    mov edi, buf
    mov edx, [base]
    mov ecx, 256
    rep insw
    call wait_ready
    mov ecx, 256
    rep insw
    DEC "irqs", [irqs]
    mov dword [alt_only], 0
    mov ecx, 7
    call in_reg                         ; status: the line goes low
    NL

    LINE "hda: SET MULTIPLE 4, READ MULTIPLE LBA 200 count 10, REP INSW per block"
    mov ah, 0xE0
    mov bl, 4
    mov al, 0xC6
    call command
    mov eax, 1
    mov dword [irqs], 0
    call wait_irq
    call regs
    mov dword [irqs], 0
    mov ah, 0xE0
    mov bl, 10
    mov bh, 200
    xor edx, edx
    mov al, 0xC4
    call command
    mov edi, buf
    mov ebx, 1
    mov esi, 10                         ; sectors left
.mult:
    mov eax, ebx
    call wait_irq
    mov ecx, esi
    cmp ecx, 4
    jbe .last
    mov ecx, 4
.last:
    sub esi, ecx
    shl ecx, 8
    mov edx, [base]
    rep insw
    inc ebx
    test esi, esi
    jnz .mult
    DEC "irqs", [irqs]
    NL
    mov ecx, 10
    call show_buf
    call regs
    LINE "IDENTIFY word 59 after SET MULTIPLE 4 (QEMU keeps its first IDENTIFY)"
    mov ah, 0xE0
    mov al, 0xEC
    call command
    mov eax, [irqs]
    inc eax
    call wait_irq
    mov edi, buf
    mov edx, [base]
    mov ecx, 256
    rep insw
    movzx eax, word [buf + 59 * 2]
    HEX "w59", eax, 4
    NL
    LINE "SET MULTIPLE 3 and 32 abort, 0 disables READ MULTIPLE"
    mov al, 0x02                        ; nIEN: these commands' interrupts are not waited for
    call set_ctrl
    mov bl, 3
.badmult:
    mov ah, 0xE0
    mov al, 0xC6
    call command
    call wait_ready
    call regs
    cmp bl, 32
    je .zero
    mov bl, 32
    jmp .badmult
.zero:
    mov bl, 0
    mov al, 0xC6
    call command
    call wait_ready
    mov bl, 1
    mov al, 0xC4
    call command
    call wait_ready
    call regs
    mov bl, 16
    mov al, 0xC6
    call command
    call wait_ready
    xor al, al
    call set_ctrl

    LINE "hda: WRITE SECTORS LBA 500 count 2 by REP OUTSW, then READ back"
    xor esi, esi
.fill:
    lea eax, [esi * 4 + 0x5A000000]
    mov [buf + esi * 4], eax
    inc esi
    cmp esi, 256
    jb .fill
    mov dword [irqs], 0
    mov ah, 0xE0
    mov bl, 2
    mov bh, 0xF4
    mov dx, 0x0001                      ; LBA 0x1F4 = 500
    mov al, 0x30
    call command
    call wait_ready
    call regs
    mov esi, buf
    mov edx, [base]
    mov ecx, 256
    rep outsw
    mov eax, 1
    call wait_irq
    call regs
    mov ecx, 256
    rep outsw
    mov eax, 2
    call wait_irq
    DEC "irqs", [irqs]
    call regs
    mov edi, buf
    mov ecx, 512
    xor eax, eax
    rep stosd
    mov ah, 0xE0
    mov bl, 2
    mov bh, 0xF4
    mov dx, 0x0001
    mov al, 0x20
    call command
    mov eax, 3
    call wait_irq
    mov edi, buf
    mov edx, [base]
    mov ecx, 256
    rep insw
    mov eax, 4
    call wait_irq
    mov ecx, 256
    rep insw
    mov ecx, 2
    call show_buf

    LINE "hda: WRITE MULTIPLE LBA 600 count 3 by REP OUTSD, READ SECTORS back by REP INSD"
    mov dword [irqs], 0
    mov ah, 0xE0
    mov bl, 3
    mov bh, 0x58
    mov dx, 0x0002                      ; LBA 0x258 = 600
    mov al, 0xC5
    call command
    call wait_ready
    mov esi, buf
    mov edx, [base]
    mov ecx, 3 * 128
    rep outsd
    mov eax, 1
    call wait_irq
    DEC "irqs", [irqs]
    call regs
    mov edi, buf + 2048
    mov ah, 0xE0
    mov bl, 3
    mov bh, 0x58
    mov dx, 0x0002
    mov al, 0x20
    call command
    mov ebx, 2
.rd32:
    mov eax, ebx
    call wait_irq
    mov edx, [base]
    mov ecx, 128
    rep insd
    inc ebx
    cmp ebx, 5
    jb .rd32
    mov esi, buf + 2048
    mov ecx, 3 * 128
    call sum_block
    HEX "sum", eax, 8
    mov esi, buf
    mov ecx, 3 * 128
    call sum_block
    HEX "written", eax, 8
    NL

    LINE "hda: LBA48 READ SECTORS EXT LBA 0x1000 count 1, HOB readback"
    mov dword [irqs], 0
    xor ecx, ecx
    call position
    NL
    mov ecx, 2
    xor al, al
    call out_reg                        ; count high 0
    mov ecx, 3
    call out_reg                        ; LBA 24-31
    mov ecx, 4
    call out_reg                        ; LBA 32-39
    mov ecx, 5
    call out_reg                        ; LBA 40-47
    mov ah, 0xE0
    mov bl, 1
    mov bh, 0
    mov dx, 0x0010                      ; LBA 15-8 = 0x10
    mov al, 0x24
    call command
    mov eax, 1
    call irq_sector
    mov al, 0x80                        ; HOB
    call set_ctrl
    call regs
    xor al, al
    call set_ctrl

    LINE "errors and other commands on hda (nIEN set, polled: QEMU completes some later)"
    xor ecx, ecx
    call position
    NL
    mov al, 0x02
    call set_ctrl
    mov esi, cmds
.cmd:
    lodsb
    test al, al
    jz .cmds_done
    mov [cur_cmd], al
    lodsb
    mov bl, al                          ; count
    lodsb
    mov bh, al                          ; sector / LBA low
    lodsb
    mov [cur_dev], al                   ; device/head
    lodsb
    mov [cur_feat], al
    lodsw
    mov dx, ax                          ; cylinder
    push esi
    push ecx
    mov ecx, 1
    mov al, [cur_feat]
    call out_reg
    pop ecx
    movzx eax, byte [cur_cmd]
    PUTS "cmd "
    push ecx
    mov ecx, 2
    call puthex
    pop ecx
    movzx eax, byte [cur_feat]
    HEX "feat", eax, 2
    mov ah, [cur_dev]
    mov al, [cur_cmd]
    call command
    call wait_ready
    call regs
    call alt
    test al, 0x08
    jz .nodata
    mov ecx, 256
    xor edi, edi
    call read_words
.nodata:
    pop esi
    jmp .cmd
.cmds_done:
    xor al, al
    call set_ctrl
    movzx eax, word [buf + 62 * 2]
    HEX "w62", eax, 4
    movzx eax, word [buf + 63 * 2]
    HEX "w63", eax, 4
    movzx eax, word [buf + 85 * 2]
    HEX "w85", eax, 4
    movzx eax, word [buf + 88 * 2]
    HEX "w88", eax, 4
    NL

    LINE "absent slaves hdb and hdd: IDENTIFY and READ are ignored"
    mov ecx, 1
    call position
    mov ah, 0xB0
    mov al, 0xEC
    call command
    call regs
    mov ecx, 3
    call position
    mov ah, 0xB0
    mov al, 0xEC
    call command
    call wait_ready
    call regs
    mov ecx, 3
    call position
    mov ah, 0xB0
    mov al, 0x20
    mov bl, 1
    call command
    call wait_ready
    call regs

    LINE "hdc: READ SECTORS LBA 2047 count 1 by IRQ 15, then EXECUTE DEVICE DIAGNOSTIC"
    mov dword [irqs], 0
    mov ecx, 2
    call position
    NL
    xor al, al                          ; nIEN clear on the secondary
    call set_ctrl
    mov ah, 0xE0
    mov bl, 1
    mov bh, 0xFF
    mov dx, 0x0007
    mov al, 0x20
    call command
    mov eax, 1
    call irq_sector
    mov ah, 0xE0
    mov al, 0x90
    call command
    mov eax, 2
    call wait_irq
    DEC "irqs", [irqs]
    call regs
    mov ecx, 3
    call position
    call regs

    LINE "nIEN set: a command completes without an interrupt"
    xor ecx, ecx
    call position
    NL
    mov al, 0x02
    call set_ctrl
    mov dword [irqs], 0
    mov ah, 0xE0
    mov al, 0x10
    call command
    call wait_ready
    sti
    nop
    nop
    cli
    DEC "irqs", [irqs]
    call regs
    LINE "ide done"
    EXIT 0

section .data
cur_cmd:  db 0
cur_feat: db 0
cur_dev:  db 0
; command, count, sector/LBA 0-7, device/head, feature, cylinder (word)
cmds:
    db 0x50, 1, 1, 0xE0, 0
    dw 0                                ; unknown command: ABRT
    db 0x20, 2, 0xFF, 0xE0, 0
    dw 0x1F                             ; LBA 8191 count 2: past the end
    db 0x20, 1, 0, 0xA0, 0
    dw 0                                ; CHS sector 0
    db 0x20, 1, 64, 0xA0, 0
    dw 0                                ; CHS sector 64 (63 per track)
    db 0x40, 5, 7, 0xE0, 0
    dw 0                                ; READ VERIFY: registers stay
    db 0x10, 1, 1, 0xA0, 0
    dw 0                                ; RECALIBRATE
    db 0x11, 1, 1, 0xA0, 0
    dw 0                                ; 0x11: ABRT under QEMU
    db 0x91, 63, 1, 0xAF, 0
    dw 0                                ; INITIALIZE DEVICE PARAMETERS 16 heads, 63
    db 0xEF, 0x0C, 1, 0xA0, 0x03
    dw 0                                ; SET FEATURES: PIO mode 4
    db 0xEF, 0, 1, 0xA0, 0x02
    dw 0                                ; write cache on
    db 0xEF, 0, 1, 0xA0, 0xAA
    dw 0                                ; read look-ahead on
    db 0xEF, 0, 1, 0xA0, 0x99
    dw 0                                ; unknown feature: ABRT
    db 0xE5, 0, 1, 0xA0, 0
    dw 0                                ; CHECK POWER MODE
    db 0xE7, 0, 1, 0xA0, 0
    dw 0                                ; FLUSH CACHE
    db 0xF8, 0, 1, 0xA0, 0
    dw 0                                ; READ NATIVE MAX ADDRESS in CHS: 16 heads, 63
    db 0x91, 32, 1, 0xA7, 0
    dw 0                                ; INITIALIZE DEVICE PARAMETERS 8 heads, 32
    db 0xF8, 0, 1, 0xA0, 0
    dw 0                                ; READ NATIVE MAX ADDRESS by the new CHS
    db 0x20, 1, 32, 0xA7, 0
    dw 1                                ; CHS read C=1 H=7 S=32: LBA 511
    db 0xF8, 0, 1, 0xE0, 0
    dw 0                                ; READ NATIVE MAX ADDRESS in LBA
    db 0x90, 0, 1, 0xA0, 0
    dw 0                                ; EXECUTE DEVICE DIAGNOSTIC
    db 0xEC, 0, 1, 0xA0, 0
    dw 0                                ; IDENTIFY again: words 62, 63, 85, 88 as SET FEATURES left them
    db 0
