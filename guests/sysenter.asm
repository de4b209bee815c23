; sysenter: SYSENTER/SYSEXIT through the SYSENTER MSRs: round trips between CPL 3 and CPL 0
; (the flat CS/SS they load, ESP/EIP from the MSRs and from ECX/EDX, IF cleared by SYSENTER,
; STI; SYSEXIT, an MSR CS with RPL bits), SYSENTER at CPL 0, the #GP cases (IA32_SYSENTER_CS = 0
; at CPL 0 and 3, SYSEXIT at CPL 3), and RDTSC/RDPMC at CPL 3 under CR4.TSD and CR4.PCE.
%include "common.inc"

REQ_TSD  equ 0x7D                       ; requests the user code makes with SYSENTER (EAX)
REQ_PCE  equ 0x7C
REQ_NOCS equ 0xC1
REQ_CPL0 equ 0x11

section .data
align 8
gdt:
    dq 0                                ; 0x00 null
    dq 0x00CF9A000000FFFF               ; 0x08 kernel code: IA32_SYSENTER_CS
    dq 0x00CF92000000FFFF               ; 0x10 kernel data: SYSENTER's SS (+8)
    dq 0x00CFFA000000FFFF               ; 0x18 user code: SYSEXIT's CS (+16, RPL 3)
    dq 0x00CFF2000000FFFF               ; 0x20 user data: SYSEXIT's SS (+24, RPL 3)
tss_desc:
    dq 0                                ; 0x28 TSS, filled in at run time
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256 * 8 - 1
        dd idt
faults: dd 0
resume: dd 0                            ; where a fault handler goes on
kernel_esp: dd 0

section .bss
align 16
idt:    resq 256
tss:    resb 104
iomap:  resb 8192 + 1                   ; one bit per port, then the 0xFF terminator
alignb 16
        resb 4096
kstack_top:                             ; the TSS's ESP0: interrupts from CPL 3
        resb 4096
sys_stack_top:                          ; IA32_SYSENTER_ESP
        resb 4096
ustack_top:

section .text
set_gate:                               ; EAX vector, EBX handler, DL type
    lea edi, [idt + eax * 8]
    mov [edi], bx
    mov word [edi + 2], 0x08
    mov byte [edi + 4], 0
    mov [edi + 5], dl
    shr ebx, 16
    mov [edi + 6], bx
    ret

%macro WRMSR 2                          ; WRMSR index, low dword (high dword 0)
    mov ecx, %1
    mov eax, %2
    xor edx, edx
    wrmsr
%endmacro

%macro SHOWMSR 2                        ; SHOWMSR "name", index
    mov ecx, %2
    rdmsr
    HEX %1, eax, 8
%endmacro

%macro TRY 2                            ; TRY "label", resume_label
    PUTS %1
    mov dword [resume], %2
%endmacro

main:
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al
    lgdt [gdtr]
    jmp 0x08:.k
.k:
    mov ax, 0x10
    mov ss, ax
    mov ax, 0x23                        ; DPL 3 data: SYSENTER/SYSEXIT leave DS-GS alone
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov dword [tss + 4], kstack_top
    mov dword [tss + 8], 0x10
    mov word [tss + 102], 104           ; the I/O bitmap follows the TSS
    mov edi, iomap                      ; deny every port...
    mov ecx, 8192 + 1
    mov al, 0xFF
    rep stosb
    mov byte [iomap + 0x3F8 / 8], 0     ; ...but COM1, so user code can print
    mov eax, tss
    mov word [tss_desc], 104 + 8192
    mov [tss_desc + 2], ax
    shr eax, 16
    mov [tss_desc + 4], al
    mov byte [tss_desc + 5], 0x89
    mov byte [tss_desc + 6], 0
    mov [tss_desc + 7], ah
    mov ax, 0x28
    ltr ax
    mov eax, 13
    mov ebx, gp_handler
    mov dl, 0x8E
    call set_gate
    mov eax, 6
    mov ebx, ud_handler
    mov dl, 0x8E
    call set_gate
    mov eax, 0x80
    mov ebx, finish
    mov dl, 0xEE                        ; DPL 3: the user code ends the run with INT 0x80
    call set_gate
    lidt [idtr]

    mov eax, 1
    cpuid
    shr edx, 11
    and edx, 1
    PUTS "cpuid sep"
    HEX "", edx, 1
    NL

    ; IA32_SYSENTER_CS is 0 after reset: both instructions #GP(0).
    TRY "cpl0 sysenter, msr cs 0:", .r1
    sysenter
.r1:
    TRY "cpl0 sysexit, msr cs 0:", .r2
    sysexit
.r2:
    WRMSR 0x174, 0x08
    WRMSR 0x175, sys_stack_top
    WRMSR 0x176, sys_entry
    PUTS "msrs"
    SHOWMSR "cs", 0x174
    SHOWMSR "esp", 0x175
    SHOWMSR "eip", 0x176
    NL

    ; SYSENTER at CPL 0 is allowed: CPL 0 again, IF cleared.
    mov [kernel_esp], esp
    sti                                 ; every IRQ is masked at the PIC
    mov eax, REQ_CPL0
    sysenter
kback:
    mov ebx, esp
    pushfd
    pop edx
    PUTS "back at cpl0"
    HEX "esp", ebx, 8
    HEX "eflags", edx, 8
    NL

    LINE "dropping to CPL 3 with IRET"
    push dword 0x23                     ; SS
    push dword ustack_top               ; ESP
    push dword 0x202                    ; IF=1, IOPL 0
    push dword 0x1B                     ; CS
    push dword user
    iretd

user:
    mov eax, cs
    mov ebx, ss
    mov edx, esp
    pushfd
    pop ebp
    PUTS "user"
    HEX "cs", eax, 4
    HEX "ss", ebx, 4
    HEX "esp", edx, 8
    HEX "eflags", ebp, 8
    NL
    ; Three round trips, each returning on another stack (ECX) to .back (EDX).
    mov esi, 1
.trip:
    mov eax, esi
    mov ecx, esi
    shl ecx, 6
    neg ecx
    add ecx, ustack_top
    mov edx, .back
    sysenter
.back:
    mov ebx, esp
    pushfd
    pop edi
    mov ebp, cs
    PUTS "user back"
    HEX "eax", eax, 8
    HEX "cs", ebp, 4
    mov ebp, ss
    HEX "ss", ebp, 4
    HEX "esp", ebx, 8
    HEX "eflags", edi, 8
    NL
    inc esi
    cmp esi, 4
    jb .trip

    TRY "cpl3 rdtsc, tsd clear:", tsc3_done
nondet_tsc3_start:          ; traces compare this range by address only (its values are the host's)
    rdtsc
    mov ebx, eax
    rdtsc
    sub eax, ebx
    setnz al
    movzx eax, al
    xor edx, edx
    xor ebx, ebx
nondet_tsc3_end:
    HEX "advances", eax, 1
    NL
tsc3_done:
    mov eax, REQ_TSD
    mov ecx, esp
    mov edx, .tsd
    sysenter
.tsd:
    TRY "cpl3 rdtsc, tsd set:", .t2
    rdtsc
    LINE " no fault"
.t2:
    TRY "cpl3 rdpmc, pce clear:", .t3
    xor ecx, ecx
    rdpmc
    LINE " no fault"
.t3:
    mov eax, REQ_PCE
    mov ecx, esp
    mov edx, .pce
    sysenter
.pce:
    TRY "cpl3 rdpmc, pce set:", .t4
    xor ecx, ecx
    rdpmc
    LINE " no fault"
.t4:
    TRY "cpl3 sysexit:", .t5
    mov ecx, esp
    mov edx, .t5
    sysexit
    LINE " no fault"
.t5:
    mov eax, REQ_NOCS                   ; the kernel sets IA32_SYSENTER_CS to 0, IRETs back
    mov ecx, esp
    mov edx, .nocs
    sysenter
.nocs:
    TRY "cpl3 sysenter, msr cs 0:", .t6
    sysenter
    LINE " no fault"
.t6:
    PUTS "user done"
    HEX "faults", [faults], 2
    NL
    int 0x80

; SYSENTER lands here at CPL 0 on IA32_SYSENTER_ESP, with the caller's other registers.
sys_entry:
    mov ebx, esp
    pushfd
    pop ebp
    push esi
    push edi
    mov esi, cs
    mov edi, ss
    PUTS "sysenter"
    HEX "eax", eax, 8
    HEX "cs", esi, 4
    HEX "ss", edi, 4
    HEX "esp", ebx, 8
    HEX "eflags", ebp, 8
    mov edi, ds
    HEX "ds", edi, 4
    and esi, 3
    HEX "cpl", esi, 1
    NL
    pop edi
    pop esi
    cmp eax, REQ_CPL0
    je .cpl0
    cmp eax, REQ_TSD
    je .tsd
    cmp eax, REQ_PCE
    je .pce
    cmp eax, REQ_NOCS
    je .nocs
    add eax, 0x100
    cmp eax, 0x102
    je .sti
    cmp eax, 0x103
    je .rpl
    sysexit
.sti:
    sti                                 ; the shadow covers SYSEXIT (as Linux returns)
    sysexit
.rpl:
    ; IA32_SYSENTER_CS with RPL bits: SYSENTER masks them, SYSEXIT's +16/+24 sets RPL 3.
    push eax
    push ecx
    push edx
    WRMSR 0x174, 0x0B
    pop edx
    pop ecx
    pop eax
    sysexit
.cpl0:
    mov esp, [kernel_esp]
    jmp kback
.tsd:
    mov eax, cr4
    or eax, 4
    mov cr4, eax
    sysexit
.pce:
    mov dword [resume], .pce_done       ; in case CR4.PCE is reserved on the reference CPU
    mov eax, cr4
    or eax, 0x100
    mov cr4, eax
.pce_done:
    sysexit
.nocs:
    push ecx
    push edx
    WRMSR 0x174, 0
    pop edx
    pop ecx
    push dword 0x23                     ; SYSEXIT would #GP now: return with IRET
    push ecx
    push dword 0x202
    push dword 0x1B
    push edx
    iretd

gp_handler:                             ; error code, EIP, CS, EFLAGS (, ESP, SS)
    inc dword [faults]
    pop eax
    PUTS " #GP"
    HEX "error", eax, 4
    jmp fault_common
ud_handler:
    inc dword [faults]
    PUTS " #UD"
fault_common:
    mov eax, [esp + 4]
    HEX "cs", eax, 4
    NL
    mov eax, [resume]
    mov [esp], eax
    iretd

finish:                                 ; INT 0x80 from CPL 3
    mov ecx, [esp + 4]
    PUTS "finish from cpl"
    and ecx, 3
    HEX "", ecx, 1
    mov eax, cr4
    HEX "cr4", eax, 8
    PUTS " cpl0 rdtsc with tsd:"
nondet_tsc0_start:
    rdtsc
    mov ebx, eax
    rdtsc
    sub eax, ebx
    setnz al
    movzx eax, al
    xor edx, edx
    xor ebx, ebx
nondet_tsc0_end:
    HEX "advances", eax, 1
    NL
    EXIT 0
