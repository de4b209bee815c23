; usermode: a TSS, IRET down to CPL 3, INT 0x80 up through a DPL 3 gate (stack switch),
; faults raised at CPL 3 (#GP from CLI, HLT, IN, a DPL 0 gate), IRET back up, and the
; segment registers the CPU nulls on a return to CPL 3.
%include "common.inc"

section .data
align 8
gdt:
    dq 0                                ; 0x00 null
    dq 0x00CF9A000000FFFF               ; 0x08 kernel code
    dq 0x00CF92000000FFFF               ; 0x10 kernel data
    dq 0x00CFFA000000FFFF               ; 0x18 user code (DPL 3)
    dq 0x00CFF2000000FFFF               ; 0x20 user data (DPL 3)
tss_desc:
    dq 0                                ; 0x28 TSS, filled in at run time
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256 * 8 - 1
        dd idt
faults: dd 0

section .bss
align 16
idt:    resq 256
tss:    resb 104
iomap:  resb 8192 + 1                   ; one bit per port, then the 0xFF terminator
        resb 4096
kstack_top:
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
    ; TSS: SS0:ESP0 is where the CPU switches stacks on the way up.
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
    mov byte [tss_desc + 6], 0          ; limit 19:16 = 0 (104 + 8192 < 64 KiB)
    mov [tss_desc + 7], ah
    mov ax, 0x28
    ltr ax
    mov eax, 0x80
    mov ebx, syscall
    mov dl, 0xEE                        ; present, DPL 3, 32-bit interrupt gate
    call set_gate
    mov eax, 13
    mov ebx, gp_handler
    mov dl, 0x8E
    call set_gate
    mov eax, 0x81
    mov ebx, syscall
    mov dl, 0x8E                        ; DPL 0: INT 0x81 from CPL 3 must #GP
    call set_gate
    lidt [idtr]

    LINE "dropping to CPL 3 with IRET"
    push dword 0x23                     ; SS
    push dword ustack_top               ; ESP
    pushfd
    or dword [esp], 0x200               ; IF=1 in user mode
    push dword 0x1B                     ; CS
    push dword user
    iretd

user:
    mov eax, cs
    mov ebx, ss
    mov ecx, ds
    PUTS "user"
    HEX "cs", eax, 4
    HEX "ss", ebx, 4
    HEX "ds_after_iret", ecx, 4
    mov edx, esp
    HEX "esp", edx, 8
    pushfd
    pop edx
    HEX "eflags", edx, 8
    NL
    mov eax, 0x1234
    int 0x80
    PUTS "back in user"
    HEX "eax", eax, 8
    mov ecx, cs
    HEX "cs", ecx, 4
    NL
    cli                                 ; #GP: CPL 3 > IOPL 0
    hlt                                 ; #GP
    in al, 0x21                         ; #GP: the I/O bitmap denies port 0x21
    int 0x81                            ; #GP(0x81*8+2): gate DPL 0
    pushfd
    pop edx
    popfd                               ; silently keeps IF and IOPL at CPL 3
    pushfd
    pop edx
    PUTS "user after faults"
    HEX "count", [faults], 2
    HEX "eflags", edx, 8
    NL
    mov eax, 0xE0                       ; ask the kernel to finish
    int 0x80

syscall:                                ; runs at CPL 0 on the TSS stack
    mov ebx, [esp]                      ; EIP
    mov ecx, [esp + 4]                  ; CS
    mov edx, [esp + 8]                  ; EFLAGS
    mov esi, [esp + 12]                 ; ESP
    mov edi, [esp + 16]                 ; SS
    cmp eax, 0xE0
    je finish
    PUTS "syscall"
    HEX "eax", eax, 8
    HEX "cs", ecx, 4
    HEX "eflags", edx, 8
    HEX "user_ss", edi, 4
    mov ebp, esp
    HEX "kernel_esp", ebp, 8
    mov ebp, cs
    HEX "kernel_cs", ebp, 4
    NL
    mov eax, 0x5678
    iretd

gp_handler:                             ; error code, EIP, CS, EFLAGS, ESP, SS
    inc dword [faults]
    mov eax, [esp]
    mov ebx, [esp + 8]
    PUTS "#GP"
    HEX "error", eax, 4
    HEX "cs", ebx, 4
    NL
    mov ebx, [esp + 4]                  ; skip the faulting instruction (1 or 2 bytes)
    cmp byte [ebx], 0xCD                ; INT imm8
    je .two
    cmp byte [ebx], 0xE4                ; IN al, imm8
    je .two
    inc ebx
    jmp .set
.two:
    add ebx, 2
.set:
    mov [esp + 4], ebx
    add esp, 4                          ; drop the error code
    iretd

finish:
    mov ax, 0x10
    mov ds, ax
    PUTS "finish from CPL"
    and ecx, 3
    HEX "", ecx, 1
    NL
    EXIT 0
