; fpu: what the x87/SSE state save instructions show about the last x87 instruction. Runs an
; x87 instruction with a memory operand, then FNSTENV/FSTENV (32- and 16-bit), FNSAVE,
; FXSAVE, XSAVE and prints the saved FIP, FCS/FOP, FDP and FDS words as they are: under a
; translator they must be the guest's EIP and selectors, never a translation-cache address or
; the monitor's selectors. Also FLDENV/FRSTOR/FXRSTOR of forged values (some shaped like
; monitor values) followed by a save, a DS reload after the x87 instruction, another CS
; selector, and an x87 instruction whose code was overwritten (its block retired) before the
; save.
%include "common.inc"

section .data
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF               ; 0x08 code
    dq 0x00CF92000000FFFF               ; 0x10 data
    dq 0x00CF92000000FFFF               ; 0x18 data
    dq 0x00CF92000000FFFF               ; 0x20 data (the stack)
    dq 0x00CF9A000000FFFF               ; 0x28 code (a second CS selector)
    dq 0x00CFFA000000FFFF               ; 0x30 code, DPL 3: 0x33, the monitor's DS shadow
    dq 0x00CFF2000000FFFF               ; 0x38 data, DPL 3: 0x3B, the monitor's FS shadow
gdt_end:
gdtr:     dw gdt_end - gdt - 1
          dd gdt
idtr:     dw 256 * 8 - 1
          dd idt
resume:   dd 0
val:      dd 1.5
val2:     dq 2.25
patch:    db 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xC3     ; what overwrites `snippet`

section .bss
alignb 64
xbuf:     resb 1024
envbuf:   resb 128
savebuf:  resb 128
snippet:  resb 64
alignb 8
idt:      resq 256
          resb 4096
stack2_top:
          resb 4096
user_stack_top:

section .text
set_gate:                               ; EAX vector, EBX handler
    lea edi, [idt + eax * 8]
    mov [edi], bx
    mov word [edi + 2], 0x08
    mov byte [edi + 4], 0
    mov byte [edi + 5], 0x8E
    shr ebx, 16
    mov [edi + 6], bx
    ret

ud_handler:                             ; #UD: report, resume at [resume]
    PUTS " #UD"
    mov eax, [resume]
    mov [esp], eax
    iretd

; dump: ECX dwords from EBX, each as " 0x%08x", then a newline.
dump:
    pushad
.next:
    PUTS " "
    push ecx
    mov eax, [ebx]
    mov ecx, 8
    call puthex
    pop ecx
    add ebx, 4
    loop .next
    NL
    popad
    ret

%macro DUMP 3                           ; DUMP "label", address, dwords
    PUTS %1
    push ebx
    push ecx
    mov ebx, %2
    mov ecx, %3
    call dump
    pop ecx
    pop ebx
%endmacro

%macro CLEAR 2                          ; CLEAR address, bytes: fill with 0xAA
    push edi
    push ecx
    push eax
    mov edi, %1
    mov ecx, %2
    mov al, 0xAA
    rep stosb
    pop eax
    pop ecx
    pop edi
%endmacro

main:
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al
    lgdt [gdtr]
    jmp 0x08:.k
.k:
    mov ax, 0x10
    mov ds, ax
    mov fs, ax
    mov ax, 0x18
    mov es, ax
    mov gs, ax
    mov ax, 0x20
    mov ss, ax
    mov esp, stack2_top
    mov eax, 6
    mov ebx, ud_handler
    call set_gate
    lidt [idtr]
    LINE "fpu: x87/SSE state saves"

    ; What the kernel finds at its entry (QEMU's reset state after the firmware).
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "boot fnstenv32:", envbuf, 7
    CLEAR xbuf, 512
    fxsave [xbuf]
    DUMP "boot fxsave:", xbuf, 8

    ; FNINIT clears the pointers.
    fninit
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fninit fnstenv32:", envbuf, 7

    ; A memory operand through DS.
    fld dword [val]
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fld [ds] fnstenv32:", envbuf, 7

    ; Through ES (an override), through SS (EBP base), a 64-bit operand with an index.
    fld dword [es:val]
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fld [es] fnstenv32:", envbuf, 7
    mov ebp, val
    fld dword [ebp]
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fld [ebp] fnstenv32:", envbuf, 7
    fld dword [cs:val]
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fld [cs] fnstenv32:", envbuf, 7
    fld dword [gs:val]
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fld [gs] fnstenv32:", envbuf, 7
    mov esi, 1
    fadd qword [val2 + esi * 8 - 8]
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fadd [idx] fnstenv32:", envbuf, 7

    ; A register-only instruction: FIP moves, FDP/FDS stay.
    fxch st1
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fxch fnstenv32:", envbuf, 7
    fldpi
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fldpi fnstenv32:", envbuf, 7

    ; Control instructions do not move the pointers.
    fld dword [val]
    fnstcw [envbuf + 100]
    fldcw [envbuf + 100]
    fnclex
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fld fldcw fnstenv32:", envbuf, 7

    ; The 16-bit forms (o16) and the waiting forms.
    fld dword [val]
    CLEAR envbuf, 28
    o16 fnstenv [envbuf]
    DUMP "fnstenv16:", envbuf, 4
    fld dword [es:val]
    CLEAR envbuf, 28
    fstenv [envbuf]
    DUMP "fstenv32:", envbuf, 7
    fld dword [val]
    CLEAR envbuf, 28
    o16 fstenv [envbuf]
    DUMP "fstenv16:", envbuf, 4

    ; FNSAVE/FSAVE (and the FNINIT they imply), 32- and 16-bit.
    fld dword [val]
    CLEAR savebuf, 108
    fnsave [savebuf]
    DUMP "fnsave32:", savebuf, 8
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "after fnsave fnstenv32:", envbuf, 7
    fld dword [es:val]
    CLEAR savebuf, 108
    o16 fsave [savebuf]
    DUMP "fsave16:", savebuf, 4

    ; FRSTOR and FLDENV of forged pointers, some shaped like a monitor's values.
    fld dword [val]
    CLEAR savebuf, 108
    fnsave [savebuf]
    mov dword [savebuf + 12], 0xE0000210
    mov dword [savebuf + 16], 0x0123001B
    mov dword [savebuf + 20], 0xE0000230
    mov dword [savebuf + 24], 0x00000033
    frstor [savebuf]
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "frstor forged fnstenv32:", envbuf, 7
    mov dword [envbuf + 12], 0x12345678
    mov dword [envbuf + 16], 0x07FF0008
    mov dword [envbuf + 20], 0x9ABCDEF0
    mov dword [envbuf + 24], 0x0000FFFF
    fldenv [envbuf]
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fldenv forged fnstenv32:", envbuf, 7
    mov word [envbuf + 6], 0x0234
    mov word [envbuf + 8], 0x001B
    mov word [envbuf + 10], 0x0250
    mov word [envbuf + 12], 0x0033
    o16 fldenv [envbuf]
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fldenv16 forged fnstenv32:", envbuf, 7

    ; A DS reload after the x87 instruction, and code running under another CS selector.
    mov ax, 0x10
    mov ds, ax
    fld dword [val]
    mov ax, 0x18
    mov ds, ax
    CLEAR envbuf, 28
    fnstenv [envbuf]
    mov ax, 0x10
    mov ds, ax
    DUMP "fld then ds reload fnstenv32:", envbuf, 7
    jmp 0x28:.cs28
.cs28:
    fld dword [val]
    jmp 0x08:.cs08
.cs08:
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fld under cs 0x28 fnstenv32:", envbuf, 7

    ; The x87 instruction's code is overwritten (its translation retired) before the save.
    mov esi, .snip_start
    mov edi, snippet
    mov ecx, .snip_end - .snip_start
    rep movsb
    call snippet
    mov esi, patch
    mov edi, snippet
    mov ecx, 7
    rep movsb
    call snippet
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "retired fld fnstenv32:", envbuf, 7
    jmp .after_snip
.snip_start:
    nop
    fld dword [val]
    ret
.snip_end:
.after_snip:

    ; FXSAVE (without and with CR4.OSFXSR) and FXRSTOR of forged pointers.
    fld dword [es:val]
    CLEAR xbuf, 512
    fxsave [xbuf]
    DUMP "fxsave:", xbuf, 8
    mov eax, cr4
    or eax, 0x200
    mov cr4, eax
    fld dword [val]
    CLEAR xbuf, 512
    fxsave [xbuf]
    DUMP "fxsave osfxsr:", xbuf, 8
    PUTS "fxsave image:"                ; every dword it wrote, as offset=value
    xor esi, esi
.img:
    mov eax, [xbuf + esi]
    cmp eax, 0xAAAAAAAA
    je .img_next
    PUTS " "
    push ecx
    push eax
    mov eax, esi
    mov ecx, 3
    call puthex
    pop eax
    PUTS "="
    mov ecx, 8
    call puthex
    pop ecx
.img_next:
    add esi, 4
    cmp esi, 512
    jb .img
    NL
    mov dword [xbuf + 4], 0x07FF0000
    mov dword [xbuf + 8], 0xE0000270
    mov dword [xbuf + 12], 0x0000001B
    mov dword [xbuf + 16], 0xE0000290
    mov dword [xbuf + 20], 0x00000033
    fxrstor [xbuf]
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "fxrstor forged fnstenv32:", envbuf, 7
    CLEAR xbuf, 512
    fxsave [xbuf]
    DUMP "fxrstor forged fxsave:", xbuf, 8

    ; XSAVE and friends: qemu32 has no XSAVE (CPUID.1:ECX bit 26 clear), so #UD.
    ; (QEMU's FXSAVE above stores zeros for FIP/FCS/FDP/FDS and no FOP, where Intel CPUs store
    ; the pointers; bt shows what QEMU shows.)
    mov eax, 1
    cpuid
    HEX "cpuid1.ecx", ecx, 8
    NL
    xor edx, edx
    mov eax, 3
    PUTS "xsave:"
    mov dword [resume], .xs1
    xsave [xbuf]
.xs1:
    PUTS " xsaveopt:"
    mov dword [resume], .xs2
    xsaveopt [xbuf]
.xs2:
    PUTS " xsavec:"
    mov dword [resume], .xs3
    xsavec [xbuf]
.xs3:
    PUTS " xrstor:"
    mov dword [resume], .xs4
    xrstor [xbuf]
.xs4:
    PUTS " xgetbv:"
    mov dword [resume], .xs5
    xor ecx, ecx
    xgetbv
.xs5:
    NL

    ; At CPL 3 (IOPL 3 for the output), with selectors that are the monitor's real ones.
    push dword 0x3B
    push dword user_stack_top
    push dword 0x3202
    push dword 0x33
    push dword .user
    iretd
.user:
    mov ax, 0x3B
    mov ds, ax
    mov es, ax
    fld dword [val]
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "cpl3 fld fnstenv32:", envbuf, 7
    fxch st1
    CLEAR envbuf, 28
    fnstenv [envbuf]
    DUMP "cpl3 fxch fnstenv32:", envbuf, 7
    LINE "done"
    EXIT 0
