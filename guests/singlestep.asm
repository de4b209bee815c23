; singlestep: EFLAGS.TF: the #DB trap after each instruction (DR6.BS), none after the POPF
; that sets TF and one after the POPF that clears it, through a CALL/RET, a JMP and a loop,
; held back by MOV SS until after the next instruction, started by an IRET, and after STI.
%include "common.inc"
%include "dbsetup.inc"
DB_DATA steps
main:
    DB_SETUP
    pushfd
    or dword [esp], 0x100
    popfd                         ; no trap after the POPF that sets TF
    mov eax, 1
    add eax, 2
    jmp .next
.next:
    call fn
    mov ecx, 3
.loop:
    dec ecx
    jnz .loop
    pushfd
    and dword [esp], ~0x100
    popfd                         ; the POPF that clears TF traps after itself
    LINE "mov ss under TF"
    pushfd
    or dword [esp], 0x100
    popfd
    mov ax, ss
    mov ss, ax                    ; the trap waits until after the next instruction
    nop
    pushfd
    and dword [esp], ~0x100
    popfd
    LINE "iret sets TF"
    pushfd
    pop eax
    or eax, 0x100
    push eax
    push cs
    push .target
    iret                          ; no trap after the IRET that sets TF
.target:
    inc edx
    inc edx
    pushfd
    and dword [esp], ~0x100
    popfd
qemu_differs:                           ; from here QEMU 7.2 leaves the SDM (tests/test_trace_regression.py)
    ; STI under TF: only MOV SS/POP SS hold the single-step trap back (Intel SDM 6.8.3; Bochs
    ; inhibits interrupts alone after STI). QEMU 7.2 holds it after STI too: tools/qemu_ref.py
    ; puts the SDM's #DB line into the reference.
    LINE "sti under TF"
    pushfd
    or dword [esp], 0x100
    popfd
    sti
sti_next:
    nop
    cli
    pushfd
    and dword [esp], ~0x100
    popfd
    mov ebx, [steps]
    HEX "steps", ebx, 8
    mov eax, dr6
    HEX " dr6", eax, 8
    NL
    EXIT 0
fn:
    nop
    ret
db_handler:
    inc dword [steps]
    push eax
    mov eax, [esp+4]
    HEX "#DB eip", eax, 8
    NL
    pop eax
    iret
