; flags: PUSHFD/POPFD, 16-bit PUSHF/POPF, CLI/STI, IOPL/AC/ID/NT writes, EFLAGS at entry.
%include "common.inc"

; Bits both QEMU and a monitor define at entry: system flags only (arithmetic flags
; depend on whatever the loader executed last).
SYSMASK equ 0x003F7702

%macro SHOWFLAGS 1                      ; print "<text> -> 0x........" of EFLAGS
    pushfd
    pop edx
    PUTS %1
    HEX "eflags", edx, 8
    NL
%endmacro

main:
    ; All PIC IRQs masked, so STI below cannot let a BIOS-programmed timer in.
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al

    mov eax, [entry_eflags]
    and eax, SYSMASK
    PUTS "entry EFLAGS&0x003f7702"
    HEX "value", eax, 8
    NL

    ; Known arithmetic state, then PUSHFD.
    xor eax, eax                        ; ZF=1 PF=1, CF=OF=SF=0
    SHOWFLAGS "PUSHFD after xor"
    mov al, 0x7F
    add al, 1                           ; OF=1 SF=1 AF=1
    SHOWFLAGS "PUSHFD after add 0x7f+1"

    cli
    SHOWFLAGS "CLI"
    sti
    SHOWFLAGS "STI"

    ; POPFD tries to clear IF while IF=1.
    push dword 0x00000002
    popfd
    SHOWFLAGS "POPFD 0x2 (clear IF)"
    ; POPFD sets IF.
    push dword 0x00000202
    popfd
    SHOWFLAGS "POPFD 0x202 (set IF)"
    cli

    ; IOPL 1, 2, 3 and back to 0.
    mov ebx, 0x1000
.iopl:
    lea eax, [ebx + 2]
    push eax
    popfd
    pushfd
    pop edx
    PUTS "POPFD IOPL"
    HEX "wrote", eax, 8
    HEX "read", edx, 8
    mov eax, edx
    shr eax, 12
    and eax, 3
    DEC "iopl", eax
    NL
    add ebx, 0x1000
    cmp ebx, 0x4000
    jb .iopl
    push dword 0x2
    popfd
    SHOWFLAGS "POPFD IOPL back to 0"

    ; AC (bit 18) and ID (bit 21) toggle on a 486+ / CPUID-capable CPU.
    push dword 0x00040002
    popfd
    SHOWFLAGS "POPFD set AC"
    push dword 0x00200002
    popfd
    SHOWFLAGS "POPFD set ID"
    push dword 0x00000002
    popfd
    SHOWFLAGS "POPFD clear AC ID"
    ; NT (bit 14) is writable; never IRET with it set.
    push dword 0x00004002
    popfd
    SHOWFLAGS "POPFD set NT"
    ; Arithmetic flags all set.
    push dword 0x000008D7
    popfd
    SHOWFLAGS "POPFD arith 0x8d7"
    ; Every bit but TF: shows which bits POPFD cannot write (RF, VM, VIF, VIP, reserved).
    push dword 0xFFFFFEFF
    popfd
    pushfd
    pop edx
    cld
    cli
    PUTS "POPFD 0xfffffeff"
    HEX "eflags", edx, 8
    NL
    push dword 0x2
    popfd

    ; 16-bit PUSHF: 2 bytes, and the dword above stays untouched.
    mov dword [esp - 4], 0xA5A5A5A5
    mov ebx, esp
    xor eax, eax                        ; ZF PF
    o16 pushf
    mov ecx, esp
    mov edx, [esp - 2]                  ; pushed word in the high half, 0xa5a5 below it
    add esp, 2
    sub ebx, ecx
    PUTS "PUSHF16"
    HEX "dword_below", edx, 8
    DEC "esp_delta", ebx
    NL
    ; 16-bit POPF writes only the low word: AC/ID set by POPFD stay set.
    push dword 0x00240002
    popfd
    push word 0x0ED7                    ; DF OF SF ZF AF PF CF set, IF and IOPL clear
    mov ebx, esp
    o16 popf
    mov ecx, esp
    pushfd
    pop edx
    cld
    sub ecx, ebx
    PUTS "POPF16 0x0ed7 over AC|ID"
    HEX "eflags", edx, 8
    DEC "esp_delta", ecx
    NL
    push word 0x3202                    ; IOPL 3 IF 1 via 16-bit POPF
    o16 popf
    pushfd
    pop edx
    cli
    PUTS "POPF16 0x3202"
    HEX "eflags", edx, 8
    NL
    push dword 0x2
    popfd

    ; STD/CLD are harmless but visible through PUSHFD.
    std
    SHOWFLAGS "STD"
    cld
    SHOWFLAGS "CLD"

    LINE "flags done"
    EXIT 0
