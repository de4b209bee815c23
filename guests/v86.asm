; v86: a virtual-8086 monitor. A TSS (ring-0 stack, an I/O bitmap that lets COM1 through),
; IRETD with VM=1 into 16-bit code copied to 0800:0000, which prints on COM1 itself and tries
; what V86 mode traps: at IOPL 0 the IOPL-sensitive CLI/STI/PUSHF/POPF/INT n/IRET, the
; privileged instructions, a port the bitmap denies, the protected-mode-only instructions
; (#UD), INT3 and a divide error through the IDT; the monitor's handlers print each frame
; (EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS, the error code, the data segments the handler
; itself sees) and IRETD back. Then IOPL 3 (PUSHF/POPF/CLI/STI run, INT n goes through the
; IDT, IRET returns within V86), far calls and segment arithmetic, and, with paging on, a
; #PF from V86 code (a user access to a supervisor page and to a not-present one); last, a
; JMP to a TSS whose EFLAGS has VM set (a V86 task) and INT3 out of it.
%include "common.inc"

V86_SEG  equ 0x0800                     ; the V86 code and data: 0800:0000 = linear 0x8000
V86_LIN  equ V86_SEG << 4
V86_SS   equ 0x0700                     ; its stack: 0700:FFF0
%define VOFF(x) ((x) - vbase)           ; an offset in the V86 segment
%define VLIN(x) (V86_LIN + (x) - vbase) ; its linear address, for the monitor

section .data
align 8
gdt:
    dq 0                                ; 0x00 null
    dq 0x00CF9A000000FFFF               ; 0x08 kernel code
    dq 0x00CF92000000FFFF               ; 0x10 kernel data
    dq 0x00CFFA000000FFFF               ; 0x18 user code (DPL 3): a gate to it from V86 #GPs
tss_desc:
    dq 0                                ; 0x20 TSS
tss2_desc:
    dq 0                                ; 0x28 the V86 task's TSS (EFLAGS.VM set)
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256 * 8 - 1
        dd idt
handler_segs: times 4 dd 0              ; DS, ES, FS, GS as a handler entered from V86 has them
stubs:
%assign v 0
%rep 20
    dd stub %+ v
%assign v v + 1
%endrep

section .bss
alignb 4096
pdir:   resd 1024
ptab:   resd 1024
idt:    resq 256
tss:    resb 104
redir:  resb 32                         ; the interrupt redirection bitmap (CR4.VME)
iomap:  resb 8192 + 1
        resb 4096
kstack_top:
tss2:   resb 104
        resb 32                         ; (its redirection bitmap: CR4.VME is off by then)
iomap2: resb 8192 + 1
        resb 4096
kstack2_top:

section .text
set_gate:                               ; EAX vector, EBX handler, DL type, CX selector
    lea edi, [idt + eax * 8]
    mov [edi], bx
    mov [edi + 2], cx
    mov byte [edi + 4], 0
    mov [edi + 5], dl
    shr ebx, 16
    mov [edi + 6], bx
    ret

IOMAP equ 104 + 32                      ; the I/O bitmap after the TSS and the redirection map
tss_setup:                              ; ESI a TSS followed by its maps, EDI its descriptor:
    mov word [esi + 102], IOMAP         ; every port denied but COM1 (0x3F8-0x3FF)
    push edi
    lea edi, [esi + IOMAP]
    mov ecx, 8192 + 1
    mov al, 0xFF
    rep stosb
    mov byte [esi + IOMAP + 0x3F8 / 8], 0
    pop edi
    mov word [edi], IOMAP + 8192
    mov eax, esi
    mov [edi + 2], ax
    shr eax, 16
    mov [edi + 4], al
    mov byte [edi + 5], 0x89
    mov [edi + 7], ah
    ret

main:
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al
    lgdt [gdtr]
    jmp 0x08:.k
.k:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov dword [tss + 4], kstack_top
    mov dword [tss + 8], 0x10
    mov esi, tss
    mov edi, tss_desc
    call tss_setup
    mov ax, 0x20
    ltr ax
    ; The V86 task (reached by JMP to its TSS at the end): VM and IOPL 3 in its EFLAGS, its
    ; segments V86 selectors, its own ring-0 stack, an I/O bitmap letting COM1 through.
    mov dword [tss2 + 4], kstack2_top
    mov dword [tss2 + 8], 0x10
    mov dword [tss2 + 0x20], VOFF(v_task)
    mov dword [tss2 + 0x24], 0x00023002
    mov dword [tss2 + 0x38], 0xFF00     ; ESP
    mov dword [tss2 + 0x48], 0x0200     ; ES
    mov dword [tss2 + 0x4C], V86_SEG    ; CS
    mov dword [tss2 + 0x50], V86_SS     ; SS
    mov dword [tss2 + 0x54], V86_SEG    ; DS
    mov dword [tss2 + 0x58], 0x0300     ; FS
    mov dword [tss2 + 0x5C], 0x0400     ; GS
    mov esi, tss2
    mov edi, tss2_desc
    call tss_setup
    ; Every exception vector to one handler each (they print the frame; INT3 with AH != 0 is
    ; a request of the V86 code), INT 30h (DPL 3) printing its frame, INT 31h with DPL 0
    ; (#GP from V86), INT 32h to a DPL 3 code segment (#GP: V86 mode leaves only for CPL 0).
    mov cx, 0x08
    xor eax, eax
.gates:
    mov ebx, [stubs + eax * 4]
    mov dl, 0xEE                        ; DPL 3 interrupt gates: INT3/INTO from V86 reach them
    call set_gate
    inc eax
    cmp eax, 20
    jb .gates
    mov eax, 0x30
    mov ebx, service
    mov dl, 0xEE
    call set_gate
    mov eax, 0x31
    mov ebx, service
    mov dl, 0x8E
    call set_gate
    mov eax, 0x32
    mov ebx, service
    mov dl, 0xEE
    mov cx, 0x1B
    call set_gate
    lidt [idtr]
    ; The V86 code and data to 0800:0000; an IVT entry for INT 40h (the V86 code's own handler).
    mov esi, vbase
    mov edi, V86_LIN
    mov ecx, vend - vbase
    rep movsb
    mov dword [0x40 * 4], (V86_SEG << 16) | VOFF(v_int40)
    ; The interrupt redirection bitmap (CR4.VME): every vector through the IDT but 40h,
    ; which goes to the V86 code's own IVT entry.
    mov edi, redir
    mov ecx, 32
    mov al, 0xFF
    rep stosb
    and byte [redir + 0x40 / 8], ~(1 << (0x40 & 7))
    ; "v86.elf vme" on the command line: the V86 code runs its CR4.VME part too.
    mov ebx, [mb_info]
    test dword [ebx], 4
    jz .novme
    mov esi, [ebx + 16]
.word:
    lodsb
    test al, al
    jz .novme
    cmp al, ' '
    jne .word
    cmp dword [esi], 'vme'
    jne .novme
    mov byte [VLIN(v_vme)], 1
.novme:
    LINE "v86: IRETD to VM=1, IOPL 0"
    push dword 0x0400                   ; GS
    push dword 0x0300                   ; FS
    push dword V86_SEG                  ; DS
    push dword 0x0200                   ; ES
    push dword V86_SS                   ; SS
    push dword 0xFFF0                   ; ESP
    push dword 0x00020002               ; EFLAGS: VM, IOPL 0, IF 0
    push dword V86_SEG                  ; CS
    push dword VOFF(v_main)             ; EIP
    iretd

; A handler's entry from V86 mode: the frame printed, then back to the V86 code at the IP
; it named before the instruction that trapped (v_resume).
%macro STUB 2                           ; vector, has an error code
stub%1:
%if %2 == 0
    push dword 0
%endif
    push dword %1
    jmp frame
%endmacro
%assign v 0
%rep 20
%if v == 8 || (v >= 10 && v <= 14) || v == 17
    STUB v, 1
%else
    STUB v, 0
%endif
%assign v v + 1
%endrep

frame:                                  ; [esp] vector, +4 error code, +8 the CPU's frame
    mov [ss:handler_segs], ds
    mov [ss:handler_segs + 4], es
    mov [ss:handler_segs + 8], fs
    mov [ss:handler_segs + 12], gs
    push eax
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    pop eax
    pushad
    mov ebp, esp
    test dword [ebp + 48], 0x20000
    jz .pm
    cmp dword [ebp + 32], 3
    jne .print
    mov eax, [ebp + 28]                 ; INT3 with AH != 0: a request of the V86 code
    cmp ah, 2
    je .iopl
    cmp ah, 3
    je .paging
    cmp ah, 4
    je .cr4
    cmp ah, 5
    je .vip
    cmp ah, 0xFF
    je .done
    cmp ah, 0xFE
    je .task_done
.print:
    PUTS "  #"
    mov eax, [ebp + 32]
    call putdec
    HEX "err", [ebp + 36], 4
    HEX "eip", [ebp + 40], 4
    HEX "cs", [ebp + 44], 4
    HEX "eflags", [ebp + 48], 8
    HEX "esp", [ebp + 52], 4
    HEX "ss", [ebp + 56], 4
    HEX "es", [ebp + 60], 4
    HEX "ds", [ebp + 64], 4
    HEX "fs", [ebp + 68], 4
    HEX "gs", [ebp + 72], 4
    HEX "hds", [handler_segs], 4
    HEX "hgs", [handler_segs + 12], 4
    cmp dword [ebp + 32], 14
    jne .resume
    mov eax, cr2
    HEX "cr2", eax, 8
.resume:                                ; after the block that trapped (it ends the line)
    movzx eax, word [VLIN(v_resume)]
    mov [ebp + 40], eax
.back:
    popad
    add esp, 8
    iretd
.iopl:                                  ; AH=2: IOPL = AL
    movzx eax, al
    shl eax, 12
    and dword [ebp + 48], ~0x3000
    or [ebp + 48], eax
    jmp .back
.cr4:                                   ; AH=4: CR4 = AL (bit 0 VME)
    movzx eax, al
    mov cr4, eax
    jmp .back
.vip:                                   ; AH=5: EFLAGS.VIP = AL (the monitor has an interrupt
    and dword [ebp + 48], ~0x100000     ; for the task)
    movzx eax, al
    shl eax, 20
    or [ebp + 48], eax
    jmp .back
.paging:                                ; AH=3: identity 0-4 MiB, user pages; 0x5000
    xor eax, eax                        ; supervisor, 0x6000 not present
.pte:
    lea edx, [eax * 4]
    shl edx, 10
    or edx, 7
    mov [ptab + eax * 4], edx
    inc eax
    cmp eax, 1024
    jb .pte
    and dword [ptab + 5 * 4], ~4
    mov dword [ptab + 6 * 4], 0
    mov eax, ptab
    or eax, 7
    mov [pdir], eax
    mov eax, pdir
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp .back
.done:                                  ; AH=0FFh: on to the V86 task, by a task switch
    LINE "v86: JMP to a TSS with EFLAGS.VM set"
    mov eax, cr3
    mov [tss2 + 0x1C], eax
    jmp 0x28:0
.task_done:                             ; AH=0FEh from the V86 task: its frame, TR, and the
    str ax                              ; monitor's state saved in the first TSS
    movzx eax, ax
    PUTS "  task int3"
    HEX "tr", eax, 4
    HEX "cs", [ebp + 44], 4
    HEX "eflags", [ebp + 48], 8
    HEX "esp", [ebp + 52], 4
    HEX "ss", [ebp + 56], 4
    HEX "es", [ebp + 60], 4
    HEX "ds", [ebp + 64], 4
    HEX "hds", [handler_segs], 4
    NL
    PUTS "  saved in the first TSS"
    HEX "cs", [tss + 0x4C], 4
    HEX "ss", [tss + 0x50], 4
    HEX "eflags", [tss + 0x24], 8
    NL
    LINE "v86: done"
    EXIT 0
.pm:
    PUTS "unexpected fault outside V86 mode: #"
    mov eax, [ebp + 32]
    call putdec
    HEX "err", [ebp + 36], 4
    HEX "eip", [ebp + 40], 8
    NL
    EXIT 3

; INT 30h (a DPL 3 gate) from V86 at IOPL 3: the frame, as the handler sees it.
service:
    mov [ss:handler_segs], ds
    push ebp
    mov ebp, esp
    push eax
    mov ax, 0x10
    mov ds, ax
    pop eax
    PUTS "  int30"
    HEX "eip", [ebp + 4], 4
    HEX "cs", [ebp + 8], 4
    HEX "eflags", [ebp + 12], 8
    HEX "esp", [ebp + 16], 4
    HEX "ss", [ebp + 20], 4
    HEX "ds", [ebp + 28], 4
    HEX "hds", [handler_segs], 4
    pop ebp
    iretd

; ---- the V86 code, copied to 0800:0000 ---------------------------------------------------
section .rodata
bits 16
vbase:
v_resume: dw 0
v_scratch: dq 0
v_far: dw VOFF(v_farproc), V86_SEG
v_vme: db 0                             ; set by the monitor: run the CR4.VME part

; TRY "name" ... ENDTRY: print the name, note where to resume (after the block), run it.
; T1 "name", instruction: the same for one instruction.
%macro TRY 1
%push try
    mov si, VOFF(%$name)
    call v_puts
    mov word [cs:VOFF(v_resume)], VOFF(%$next)
    jmp %$body
%$name: db "try ", %1, 0
%$body:
%endmacro
%macro ENDTRY 0
%$next:
    call v_nl
%pop
%endmacro
%macro T1 2+
    TRY %1
    %2
    ENDTRY
%endmacro

v_putc:                                 ; AL to COM1 (the I/O bitmap lets it through)
    push dx
    push ax
    mov dx, 0x3FD
.w: in al, dx
    test al, 0x20
    jz .w
    pop ax
    mov dx, 0x3F8
    out dx, al
    pop dx
    ret
v_puts:                                 ; CS:SI
    push ax
.n: mov al, [cs:si]
    inc si
    test al, al
    jz .d
    call v_putc
    jmp .n
.d: pop ax
    ret
v_nl:
    push ax
    mov al, 10
    call v_putc
    pop ax
    ret
v_hex:                                  ; AX as 4 hex digits after a space
    push ax
    push bx
    push cx
    mov bx, ax
    mov al, ' '
    call v_putc
    mov cx, 4
.d: rol bx, 4
    mov al, bl
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe .p
    add al, 'a' - '9' - 1
.p: call v_putc
    loop .d
    pop cx
    pop bx
    pop ax
    ret

v_main:
    mov si, VOFF(s_hello)
    call v_puts
    mov ax, cs
    call v_hex
    mov ax, ds
    call v_hex
    mov ax, es
    call v_hex
    mov ax, fs
    call v_hex
    mov ax, gs
    call v_hex
    mov ax, ss
    call v_hex
    mov ax, sp
    call v_hex
    call v_nl
    ; Segment loads are real-mode ones: ES = 0 reads the IVT entry the monitor wrote.
    xor ax, ax
    mov es, ax
    mov ax, [es:0x40 * 4]
    call v_hex
    mov ax, [es:0x40 * 4 + 2]
    call v_hex
    push word 0x0900
    pop fs
    mov ax, fs
    call v_hex
    call v_nl
    T1 "cli", cli
    T1 "sti", sti
    T1 "pushf", pushf
    T1 "popf", popf
    T1 "pushfd", pushfd
    T1 "int 40h", int 0x40
    T1 "iret", iret
    TRY "int3"
    xor ax, ax
    int3
    ENDTRY
    TRY "into"
    mov al, 0x7F
    add al, 1
    into
    ENDTRY
    T1 "hlt", hlt
    TRY "mov eax,cr0"
    mov eax, cr0
    ENDTRY
    TRY "mov cr0,eax"
    mov cr0, eax
    ENDTRY
    TRY "lgdt"
    lgdt [cs:VOFF(v_scratch)]
    ENDTRY
    TRY "lmsw"
    lmsw ax
    ENDTRY
    T1 "clts", clts
    T1 "wbinvd", wbinvd
    TRY "rdmsr"
    xor ecx, ecx
    rdmsr
    ENDTRY
    TRY "mov eax,dr7"
    mov eax, dr7
    ENDTRY
    TRY "in 21h"
    in al, 0x21
    ENDTRY
    TRY "out 80h"
    out 0x80, al
    ENDTRY
    TRY "sldt"
    sldt ax
    ENDTRY
    TRY "str"
    str ax
    ENDTRY
    TRY "lar"
    lar ax, ax
    ENDTRY
    TRY "verr"
    verr ax
    ENDTRY
    TRY "arpl"
    arpl ax, ax
    ENDTRY
    TRY "ltr"
    ltr ax
    ENDTRY
    TRY "div 0"
    xor cx, cx
    div cx
    ENDTRY
    TRY "smsw"
    smsw ax
    call v_hex
    ENDTRY
    TRY "sgdt"
    sgdt [cs:VOFF(v_scratch)]
    mov ax, [cs:VOFF(v_scratch)]
    call v_hex
    ENDTRY
    TRY "rdtsc (ok)"
    rdtsc
    ENDTRY
    ; IOPL 3: the sensitive instructions run.
    mov ax, 0x0203
    int3
    mov si, VOFF(s_iopl3)
    call v_puts
    call v_nl
    TRY "pushf"
    pushf
    pop ax
    call v_hex
    ENDTRY
    TRY "pushfd"
    pushfd
    pop eax
    call v_hex
    shr eax, 16
    call v_hex
    ENDTRY
    TRY "popf iopl=0 if=1"
    push word 0x0202
    popf
    pushf
    pop ax
    call v_hex
    ENDTRY
    TRY "cli"
    cli
    pushf
    pop ax
    call v_hex
    ENDTRY
    TRY "sti"
    sti
    pushf
    pop ax
    call v_hex
    ENDTRY
    TRY "int 30h"
    int 0x30
    ENDTRY
    T1 "int 31h (gate DPL 0)", int 0x31
    T1 "int 32h (to CPL 3)", int 0x32
    TRY "iret"
    pushf
    push cs
    push word VOFF(.after)
    iret
.after:
    mov ax, sp
    call v_hex
    ENDTRY
    T1 "int 40h", int 0x40
    TRY "far call"
    call far [cs:VOFF(v_far)]
    call v_hex
    ENDTRY
    TRY "retf"
    push cs
    push word VOFF(.r)
    retf
.r:
    mov ax, sp
    call v_hex
    ENDTRY
    TRY "a32 beyond 64K"
    mov ebx, 0x10000
    mov ax, [ebx]
    call v_hex
    ENDTRY
    TRY "les"
    les bx, [cs:VOFF(v_far)]
    mov ax, es
    call v_hex
    mov ax, bx
    call v_hex
    ENDTRY
    TRY "lodsw"
    mov si, VOFF(v_far)
    push cs
    pop ds
    cld
    lodsw
    call v_hex
    ENDTRY
    cmp byte [cs:VOFF(v_vme)], 0
    je .paging
    call v_vme_tests
.paging:
    ; Paging: V86 accesses are user accesses.
    mov ah, 3
    int3
    TRY "read 0x5000 (supervisor)"
    xor ax, ax
    mov ds, ax
    mov ax, [0x5000]
    ENDTRY
    TRY "write 0x6000 (not present)"
    mov byte [0x6000], 1
    ENDTRY
    TRY "read 0x7000"
    mov ax, [0x7000]
    call v_hex
    ENDTRY
    push cs
    pop ds
    mov ah, 0xFF
    int3

; CR4.VME at IOPL 0 (Intel SDM 20.3 and 20.4; QEMU 7.2 implements none of it): CLI/STI act
; on VIF, PUSHF shows VIF as IF and IOPL 3, POPF sets VIF from IF, INT 40h (its bit clear in
; the redirection bitmap) goes to the V86 code's own IVT entry and its IRET returns; INT 30h
; (bit set), PUSHFD, and STI or POPF setting IF while VIP is set raise #GP(0).
v_vme_tests:
    mov ax, 0x0401
    int3
    mov ax, 0x0200
    int3
    mov si, VOFF(s_vme)
    call v_puts
    call v_nl
    TRY "vme cli"
    cli
    pushf
    pop ax
    call v_hex
    ENDTRY
    TRY "vme sti"
    sti
    pushf
    pop ax
    call v_hex
    ENDTRY
    T1 "vme pushfd", pushfd
    TRY "vme popf if=0"
    push word 0x0002
    popf
    pushf
    pop ax
    call v_hex
    ENDTRY
    TRY "vme int 40h (redirected)"
    xor ax, ax
    int 0x40
    call v_hex
    mov ax, sp
    call v_hex
    ENDTRY
    T1 "vme int 30h (not redirected)", int 0x30
    mov ax, 0x0501
    int3
    T1 "vme sti with VIP", sti
    TRY "vme popf if=1 with VIP"
    push word 0x0202
    popf
    ENDTRY
    pop ax
    mov ax, 0x0500
    int3
    mov ax, 0x0400
    int3
    mov ax, 0x0203
    int3
    ret

v_task:                                 ; the V86 task, entered by the task switch
    mov si, VOFF(s_task)
    call v_puts
    mov ax, cs
    call v_hex
    mov ax, ss
    call v_hex
    mov ax, sp
    call v_hex
    mov ax, ds
    call v_hex
    mov ax, gs
    call v_hex
    pushf
    pop ax
    call v_hex
    call v_nl
    mov ah, 0xFE
    int3

v_farproc:
    mov ax, sp
    retf
v_int40:                                ; the V86 code's own INT 40h handler (reached by IRET
    mov ax, 0x4040                      ; frames only; INT 40h itself goes to the IDT)
    iret
s_hello: db "v86 segments cs ds es fs gs ss sp:", 0
s_iopl3: db "v86: IOPL 3", 0
s_vme: db "v86: CR4.VME, IOPL 0", 0
s_task: db "v86 task cs ss sp ds gs flags:", 0
vend:
