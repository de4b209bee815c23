; modes.asm: real mode -> 32-bit PM -> 16-bit PM -> real mode, unreal mode, A20, IVT and IDT.
; In real mode: CR0, INT 60h through the IVT (the frame the handler sees), IRQ 0 (the PIT) taken
; through the guest's own IVT[08h] entry, A20 turned off and on through port 92h and INT 15h
; AX=2400h/2401h (2402h/2403h report it) with a byte written at FFFF:0520 (linear 100510h) and
; read back at 0000:0510 to show the wrap-around at 1 MiB. Then a far jump into 32-bit protected
; mode (INT 30h and IRQ 0 through the guest's IDT, SGDT/SIDT, a dword written at 2 MiB), a far
; jump to a 16-bit code segment (a based 16-bit data segment read, 4 GiB limits loaded into DS,
; FS), PE cleared and a far jump back to real mode, where DS and FS, reloaded with 0, keep their
; 4 GiB limit ("unreal mode"): the dword at 2 MiB read through them. What protected mode saw is
; printed after the return (INT 10h is a real-mode service).
STAGE2_SECTORS equ 6
WRAP_LOW equ 0x0510                     ; 0000:0510, and FFFF:0520 = linear 100510h
%include "boot16.inc"
%include "exit16.inc"
%include "stage2.inc"

main:
    mov eax, cr0
    H8 "rm: cr0=", eax
    mov ax, cs
    H4 " cs=", ax
    call newline

    ; INT 60h through the IVT
    mov word [0x60 * 4], int60_rm
    mov word [0x60 * 4 + 2], 0
    push word 0x0202                    ; FLAGS: IF and the reserved bit 1 only
    popf
    mov ax, 0x1111
    int 0x60
int60_next:
    H4 "rm int 60h via ivt: ax=", ax
    H4 " frame ip=", [rm_frame]
    H4 " cs=", [rm_frame + 2]
    H4 " flags=", [rm_frame + 4]
    mov ax, int60_next
    H4 " (return ip ", ax
    PL ")"

    ; IRQ 0 through the guest's own IVT[08h]
    cli
    push dword [8 * 4]
    mov word [8 * 4], irq0_rm
    mov word [8 * 4 + 2], 0
.wait_rm:
    sti
    hlt
    cli
    cmp byte [rm_irq], 0
    je .wait_rm
    pop dword [8 * 4]
    sti
    H2 "rm irq0 via ivt[08]: count=", [rm_irq]
    call newline

    ; A20
    P "int15 ax=2403:"
    mov ax, 0x2403
    int 0x15
    call cfah
    H4 " bx=", bx
    call newline
    call a20_state
    in al, 0x92
    H2 "port 92h=", al
    and al, 0xFC                        ; A20 off (bit 0 is the fast reset: never set it)
    out 0x92, al
    P " -> a20 off (92h):"
    call wrap
    call newline
    in al, 0x92
    or al, 0x02
    and al, 0xFE
    out 0x92, al
    P "port 92h -> a20 on (92h):"
    call wrap
    call newline
    P "int15 ax=2400:"
    mov ax, 0x2400
    int 0x15
    call cfah
    call wrap
    call newline
    call a20_state
    P "int15 ax=2401:"
    mov ax, 0x2401
    int 0x15
    call cfah
    call wrap
    call newline
    call a20_state

    ; into 32-bit protected mode
    cli
    lgdt [gdt_desc]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm32

bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov [pm_cs], cs
    mov eax, cr0
    mov [pm_cr0], eax
    mov [pm_esp], esp
    sgdt [pm_sgdt]
    lidt [idt_desc]
    sidt [pm_sidt]
    mov dword [0x200000], 0x12345678    ; above 1 MiB, for the unreal read
    mov word [0x12340], 0xBEEF          ; for the based 16-bit segment
    push dword 0x00000202
    popfd
    mov eax, 0x2222
    int 0x30
pm_int_next:
    mov [pm_eax], eax
.wait_pm:
    sti
    hlt
    cli
    cmp byte [pm_irq], 0
    je .wait_pm
    jmp 0x18:pm16

int30_pm:
    mov eax, [esp]
    mov [pm_frame], eax
    mov eax, [esp + 4]
    mov [pm_frame + 4], eax
    mov eax, [esp + 8]
    mov [pm_frame + 8], eax
    mov eax, 0x600DF00D
    iretd

irq0_pm:
    push eax
    mov byte [pm_irq], 1                ; set, not counted (as irq0_rm)
    mov al, 0x20                        ; EOI to the master PIC
    out 0x20, al
    pop eax
    iretd

bits 16
pm16:
    mov [pm16_cs], cs
    mov ax, 0x28                        ; 16-bit data segment based at 12340h
    mov es, ax
    mov ax, [es:0]
    mov [pm16_word], ax
    mov ax, 0x20                        ; 16-bit stack segment (B=0), as real mode needs it
    mov ss, ax
    mov ax, 0x10                        ; 4 GiB data segments: kept in DS and FS after PE=0
    mov ds, ax
    mov fs, ax
    mov ax, 0x20
    mov es, ax
    mov gs, ax
    lidt [ivt_desc]
    mov eax, cr0
    and al, 0xFE
    mov cr0, eax
    jmp 0:rm_again

rm_again:
    xor ax, ax
    mov ss, ax
    mov es, ax
    mov gs, ax
    mov ds, ax                          ; a real-mode load: base 0, the 4 GiB limit stays
    mov fs, ax
    sti
    mov esi, 0x200000
    mov eax, [esi]
    mov [unreal_ds], eax
    mov eax, [fs:esi]
    mov [unreal_fs], eax

    H4 "pm32: cs=", [pm_cs]
    H8 " cr0=", [pm_cr0]
    H8 " esp=", [pm_esp]
    call newline
    H4 "pm32: sgdt limit=", [pm_sgdt]
    H8 " base=", [pm_sgdt + 2]
    H4 " sidt limit=", [pm_sidt]
    H8 " base=", [pm_sidt + 2]
    call newline
    H8 "pm32 int 30h via idt: eax=", [pm_eax]
    H8 " frame eip=", [pm_frame]
    H8 " cs=", [pm_frame + 4]
    H8 " eflags=", [pm_frame + 8]
    mov eax, pm_int_next
    H8 " (return eip ", eax
    PL ")"
    H2 "pm32 irq0 via idt[08]: count=", [pm_irq]
    call newline
    H4 "pm16: cs=", [pm16_cs]
    H4 " [0028:0000] (base 12340h)=", [pm16_word]
    call newline
    mov eax, cr0
    H8 "rm again: cr0=", eax
    mov ax, cs
    H4 " cs=", ax
    H8 " unreal [ds:00200000]=", [unreal_ds]
    H8 " [fs:00200000]=", [unreal_fs]
    call newline
    sidt [pm_sidt]
    H4 "rm again: sidt limit=", [pm_sidt]
    H8 " base=", [pm_sidt + 2]
    call newline
    mov ax, 0x3333                      ; the IVT is back: INT 60h once more
    int 0x60
    H4 "rm int 60h via ivt again: ax=", ax
    call newline
    xor al, al
    jmp EXIT_STUB

; wrap: writes 22h at FFFF:0520 (linear 100510h) after 11h at 0000:0510 and prints what
; 0000:0510 holds: 22 when A20 is off (the address wrapped to 000510h), 11 when it is on.
wrap:
    push ax
    push es
    mov byte [WRAP_LOW], 0x11
    mov ax, 0xFFFF
    mov es, ax
    mov byte [es:WRAP_LOW + 0x10], 0x22
    H2 " [0000:0510]=", [WRAP_LOW]
    H2 " [ffff:0520]=", [es:WRAP_LOW + 0x10]
    pop es
    pop ax
    ret

; a20_state: INT 15h AX=2402h (the gate's state in AL) and port 92h.
a20_state:
    P "int15 ax=2402:"
    mov ax, 0x2402
    int 0x15
    call cfah
    H2 " al=", al
    in al, 0x92
    H2 " port 92h=", al
    jmp newline

int60_rm:
    push bp
    mov bp, sp
    push ax
    mov ax, [bp + 2]
    mov [rm_frame], ax
    mov ax, [bp + 4]
    mov [rm_frame + 2], ax
    mov ax, [bp + 6]
    mov [rm_frame + 4], ax
    pop ax
    add ax, 0x0101
    pop bp
    iret

irq0_rm:
    ; Set, not counted: a second tick may be taken between the IRET and the waiting loop's CLI
    ; (QEMU's PIT catches up when its host is late), and the line must not depend on that.
    mov byte [cs:rm_irq], 1
    push ax
    mov al, 0x20                        ; EOI to the master PIC
    out 0x20, al
    pop ax
    iret

align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF               ; 08: 32-bit code, base 0, 4 GiB
    dq 0x00CF92000000FFFF               ; 10: 32-bit data, base 0, 4 GiB
    dq 0x00009A000000FFFF               ; 18: 16-bit code, base 0, 64 KiB
    dq 0x000092000000FFFF               ; 20: 16-bit data, base 0, 64 KiB
    dq 0x000092012340FFFF               ; 28: 16-bit data, base 12340h, 64 KiB
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
idt:
    times 8 dq 0
    dw irq0_pm, 0x08, 0x8E00, 0         ; 08: IRQ 0 (the PIC's base is still 8)
    times 0x30 - 9 dq 0
    dw int30_pm, 0x08, 0x8E00, 0        ; 30: INT 30h
idt_end:
idt_desc:
    dw idt_end - idt - 1
    dd idt
ivt_desc:
    dw 0x3FF
    dd 0

rm_frame: dw 0, 0, 0
rm_irq: db 0
pm_irq: db 0
pm_cs: dw 0
pm16_cs: dw 0
pm16_word: dw 0
pm_cr0: dd 0
pm_esp: dd 0
pm_eax: dd 0
pm_frame: dd 0, 0, 0
pm_sgdt: dw 0
    dd 0
pm_sidt: dw 0
    dd 0
unreal_ds: dd 0
unreal_fs: dd 0
STAGE2_END
