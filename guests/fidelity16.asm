; fidelity16: the fidelity matrix's 16-bit columns. Every sensitive instruction of DESIGN.md's
; list, in its 16-bit form, tried in a 16-bit code segment on a 16-bit stack at CPL 0
; ("pm16cpl0 <INSN> ...") and CPL 3 ("pm16cpl3"), then in real mode ("real") after the guest
; cleared CR0.PE. A flat image at 0x1000 (every offset below 64 KiB, so one code serves all
; three), copied there by fidelity16mb.asm. With "v86" on the command line, a V86 column ("v86",
; VM=1, IOPL 0, the TSS's I/O bitmap) runs between PM16 CPL 3 and real mode. Faults reach 32-bit handlers through 386 gates
; (real mode: 16-bit IVT handlers), which note the vector, error code and pushed CS and return
; to a 16-bit reporter that prints them and resumes after the try.
; Built: nasm -f bin (guests/build.sh).
bits 32
org 0x1000
KSTACK16 equ 0xFFF0                     ; PM16 CPL 0 and real mode: SS:SP
USTACK16 equ 0xEFF0                     ; PM16 CPL 3
KSTACK32 equ 0xDFF0                     ; ring 0 stack of CPL 3 faults (TSS SS0:ESP0)
EFLAGS_VM equ 0x20000

    jmp start                           ; the image's first byte: its entry
%include "fidelity_gates.inc"

start:
    mov [v86_on], dl
    lgdt [gdtr]
    jmp 0x08:.k
.k:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, KSTACK32
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al
    TSS_SETUP KSTACK32
    xor eax, eax                        ; every vector not named below: the #GP reporter
.gates:
    mov ebx, [pm_handlers + 13 * 4]
    mov dl, 0x8E
    call set_gate
    inc eax
    cmp eax, 32
    jb .gates
    mov esi, pm_faults
.named:
    movzx eax, byte [esi]
    cmp al, 0xFF
    je .named_done
    mov ebx, [pm_handlers + eax * 4]
    mov dl, 0x8E
    call set_gate
    inc esi
    jmp .named
.named_done:
    mov eax, 0x40
    mov ebx, pm_soft
    mov dl, 0xEE                        ; DPL 3 interrupt gate
    call set_gate
    mov eax, 4
    mov ebx, pm_soft
    mov dl, 0xEF                        ; INTO: DPL 3 trap gate
    call set_gate
    mov eax, 0x41
    mov ebx, pm_soft
    mov dl, 0x8E                        ; DPL 0: INT 0x41 from CPL 3 faults
    call set_gate
    mov eax, 0x43
    mov ebx, pm16_soft
    mov dl, 0xE6                        ; DPL 3 286 interrupt gate...
    call set_gate
    mov word [idt + 0x43 * 8 + 2], 0x48 ; ...to the 16-bit code segment
    mov eax, 0x42
    mov ebx, pm_back
    mov dl, 0xEE                        ; CPL 3 -> 0 when its tour is done
    call set_gate
    lidt [idtr]
    jmp 0x48:pm16_kernel


; 32-bit handlers of the PM16 and V86 columns. They run on the faulting try's stack (CPL 0: the
; 16-bit SS, so PUSH/POP move SP only; ESP's upper half is 0) or on the TSS's ring 0 stack; DS
; is loaded flat (from V86 it arrives null) and put back before the IRET to the reporter.
%macro FLAT_DS 0                        ; DS and EAX saved, DS flat: 8 bytes pushed
    push ds
    push eax
    mov ax, 0x10
    mov ds, ax
%endmacro
%macro PM_FAULT 2                       ; vector, has error code
pmf%1:
%if %2 == 0
    push dword 0xFFFF                   ; no error code: the reporter's stand-in
%endif
    push dword %1
    jmp pm_fault
%endmacro
PM_FAULT 0, 0
PM_FAULT 5, 0
PM_FAULT 6, 0
PM_FAULT 10, 1
PM_FAULT 11, 1
PM_FAULT 12, 1
PM_FAULT 13, 1
pm_fault:                               ; vector, error code, EIP, CS, EFLAGS (, ESP, SS, ES, DS...)
    FLAT_DS
    mov eax, [esp + 8]
    mov [f_vec], eax
    mov eax, [esp + 12]
    mov [f_err], eax
    mov eax, [esp + 20]
    mov [f_cs], eax
    mov eax, [esp + 24]
    and eax, EFLAGS_VM
    mov [f_vm], eax
    jz .resume
    cmp byte [v86_done], 0              ; the V86 tour's INT 0x42 (#GP at IOPL 0): it is over
    jne pm_back
    mov eax, [esp + 32]                 ; the V86 frame's SS and DS
    mov [f_v86ss], eax
    mov eax, [esp + 40]
    mov [f_v86ds], eax
.resume:
    mov dword [esp + 16], fault_report  ; IRET to the reporter, in the try's own segment
    pop eax
    pop ds
    add esp, 8
    iretd
pm_soft:                                ; INT 0x40/0x41, INTO
    FLAT_DS
    mov eax, [esp + 12]
    mov [f_cs], eax
    mov eax, [esp + 16]
    mov [f_flags], eax
    mov dword [esp + 8], soft_report
    pop eax
    pop ds
    iretd
pm_back:                                ; INT 0x42 from CPL 3 (or #GP from V86): on
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, KSTACK32
    cmp byte [v86_on], 0
    je .real
    mov byte [v86_on], 0                ; the V86 column: an IRETD into VM=1, IOPL 0
    mov word [mode], s_v86
    push dword 0                        ; GS, FS, DS, ES: segment 0 (base 0)
    push dword 0
    push dword 0
    push dword 0
    push dword 0                        ; SS:ESP
    push dword USTACK16
    push dword EFLAGS_VM | 0x202        ; IF set: the PIC is masked
    push dword 0                        ; CS:EIP
    push dword v86_entry
    iretd
.real:
    mov ax, 0x50                        ; 64 KiB limits, as real mode has them
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    jmp 0x48:to_real

; ---------------------------------------------------------------------------------------------
bits 16
pm16_kernel:
    mov ax, 0x50
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, KSTACK16
    mov word [mode], s_pm16cpl0
    mov byte [cpl0], 1
    call tour
    mov byte [tss_desc + 5], 0x89       ; the LTR try moved TR to 0x30: back to 0x28
    mov ax, 0x28
    ltr ax
    mov word [mode], s_pm16cpl3
    mov byte [cpl0], 0
    push word 0x63                      ; a 16-bit IRET to CPL 3
    push word USTACK16
    pushf
    push word 0x5B
    push word .user
    iret
.user:
    mov ax, 0x63                        ; DS and ES were 0x50 (DPL 0): IRET nulled them
    mov ds, ax
    mov es, ax
    call tour
    int 0x42

pm16_soft:                              ; INT 0x43 through the 286 gate: IP, CS, FLAGS (, SP, SS)
    push ds
    push ax
    push bp
    mov ax, 0x50
    mov ds, ax
    mov bp, sp
    movzx eax, word [bp + 8]
    mov [f_cs], eax
    movzx eax, word [bp + 10]
    mov [f_flags], eax
    mov word [bp + 6], soft_report
    pop bp
    pop ax
    pop ds
    iret

v86_entry:
    call tour
    mov byte [v86_done], 1
    int 0x42                            ; #GP at IOPL 0: the handler goes on to real mode

to_real:
    mov eax, cr0
    and al, 0xFE
    mov cr0, eax
    jmp 0:.real
.real:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, KSTACK16
    lidt [ivt_idtr]
    xor bx, bx                          ; vectors 0-31: the reporter's stubs; 4, 0x40, 0x41: INT
.ivt:
    mov ax, bx
    shr ax, 2
    imul ax, rm_stub_size
    add ax, rm_stubs
    mov [bx], ax
    mov word [bx + 2], 0
    add bx, 4
    cmp bx, 32 * 4
    jb .ivt
    mov word [4 * 4], rm_soft
    mov word [0x40 * 4], rm_soft
    mov word [0x40 * 4 + 2], 0
    mov word [0x41 * 4], rm_soft
    mov word [0x41 * 4 + 2], 0
    mov word [0x43 * 4], rm_soft
    mov word [0x43 * 4 + 2], 0
    mov word [mode], s_real
    mov byte [cpl0], 1
    call tour
    mov si, s_done
    call puts16
    xor al, al
    out 0xf4, al
.halt:
    cli
    hlt
    jmp .halt

; Real-mode IVT handlers: one stub per vector pushes it.
rm_stubs:
%assign v 0
%rep 32
    push word v
    jmp near rm_fault
%assign v v+1
%endrep
rm_stub_size equ (rm_fault - rm_stubs) / 32
rm_fault:
    pop word [f_vec]
    mov word [f_vec + 2], 0
    mov dword [f_err], 0xFFFF           ; real mode pushes no error code
    mov dword [f_vm], 0
    push bp
    mov bp, sp
    push word [bp + 4]                  ; the pushed CS
    pop word [f_cs]
    mov word [f_cs + 2], 0
    mov word [bp + 2], fault_report
    pop bp
    iret
rm_soft:
    push bp
    mov bp, sp
    push word [bp + 4]
    pop word [f_cs]
    mov word [f_cs + 2], 0
    push word [bp + 6]
    pop word [f_flags]
    mov word [f_flags + 2], 0
    mov word [bp + 2], soft_report
    pop bp
    iret

%include "fidelity16io.inc"
%include "fidelity16tour.inc"

align 8
gdt:
    dq 0                                ; 0x00 null
    dq 0x00CF9A000000FFFF               ; 0x08 kernel code, 32-bit
    dq 0x00CF92000000FFFF               ; 0x10 kernel data, 32-bit
    dq 0x00CFFA000000FFFF               ; 0x18 user code, 32-bit (LAR's selector)
    dq 0x00CFF2000000FFFF               ; 0x20 user data, 32-bit (VERW's selector)
tss_desc:
    dq 0                                ; 0x28 TSS
tss2_desc:
    dq 0                                ; 0x30 a second TSS, for LTR at CPL 0
    dq 0x0000820000000000 + 0x0F        ; 0x38 LDT (base 0, limit 0xF)
    dq 0x00CFFA000000FFFF               ; 0x40 unused (fidelity.asm's layout up to here)
    dq 0x00009A000000FFFF               ; 0x48 kernel code, 16-bit, 64 KiB
    dq 0x000092000000FFFF               ; 0x50 kernel data/stack, 16-bit (B=0), 64 KiB
    dq 0x0000FA000000FFFF               ; 0x58 user code, 16-bit, DPL 3
    dq 0x0000F2000000FFFF               ; 0x60 user data/stack, 16-bit, DPL 3
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256 * 8 - 1
        dd idt
ivt_idtr: dw 0x3FF
        dd 0
pm_handlers:
    dd pmf0, 0, 0, 0, 0, pmf5, pmf6, 0, 0, 0, pmf10, pmf11, pmf12, pmf13
pm_faults: db 0, 5, 6, 10, 11, 12, 0xFF
s_pm16cpl0: db "pm16cpl0", 0
s_pm16cpl3: db "pm16cpl3", 0
s_real: db "real", 0
s_v86:  db "v86", 0
v86_on: db 0                            ; the command line asked for the V86 column
v86_done: db 0
s_done: db "fidelity16 done", 10, 0
mode:   dw 0                            ; the column's name
cpl0:   db 0                            ; 1 where HLT would wait forever (CPL 0, no timer)
tag:    dw 0                            ; the instruction being tried
resume: dw 0                            ; where a reporter goes on
tour_sp: dw 0
f_vec:  dd 0
f_err:  dd 0
f_cs:   dd 0
f_flags: dd 0
f_vm:   dd 0                            ; EFLAGS.VM of the fault's frame
f_v86ss: dd 0
f_v86ds: dd 0
bounds: dw 10, 20
farptr: dw 0, 0
farptr32: dd 0
        dw 0
scratch: times 16 db 0

align 16
idt:    times 256 * 8 db 0
tss:    times 104 db 0
iomap:  times 8192 + 1 db 0
tss2:   times 104 db 0
