; tasks: call gates (386 and 286, same and inner level, parameters copied, RETF back), task
; switches (CALL/JMP to a 386 or 286 TSS, a task gate in the GDT and in the IDT, an exception
; through a task gate with its error code, IRET with NT, a #TS raised in the new task's context,
; a new CR3), and the faults their checks raise.
%include "common.inc"

KSTACK equ 0x9000                       ; SS0:ESP0, low so 16-bit frames hold it
USTACK equ 0x8000                       ; the CPL 3 stack, below 64 KiB for the 286 gate
MSTACK equ 0xA000                       ; main's: a 286 task keeps ESP's upper half (0)
BSTACK equ 0x6000                       ; task B's SP
USTACK16 equ 0x5000                     ; task U's SP

section .data
align 8
gdt:
    dq 0                                ; 0x00 null
    dq 0x00CF9A000000FFFF               ; 0x08 kernel code
    dq 0x00CF92000000FFFF               ; 0x10 kernel data
    dq 0x00CFFA000000FFFF               ; 0x18 user code (DPL 3)
    dq 0x00CFF2000000FFFF               ; 0x20 user data (DPL 3)
    times 24 dq 0                       ; 0x28.. filled in at run time
    dq 0x00CF1A000000FFFF               ; 0xE8 kernel code, not present
    dq 0                                ; 0xF0 call gate to it
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256 * 8 - 1
        dd idt
recover: dd 0
via_jmp: dd 0
f_vec:  dd 0
f_err:  dd 0

section .bss
alignb 16
idt:    resq 256
tss_main: resb 104
tss_a:  resb 104
tss_b:  resb 44
alignb 16
tss_d:  resb 104
tss_e:  resb 104
tss_f:  resb 104
tss_p:  resb 104
tss_u:  resb 44
alignb 4
tss_h:  resb 104
h_rec:  resd 2                          ; what task H saw
i_rec:  resd 4                          ; what INT 0x41 from task U saw
db_rec: resd 2                          ; what #DB saw
msw_rec: resd 2                         ; SMSW before and after a task gate's switch
alignb 4096
pd1:    resd 1024                       ; identity, 4 MiB pages
pd2:    resd 1024                       ; the same but 4-8 MiB maps 8-12 MiB
g_rec:  resd 8                          ; what the gate targets saw
b_rec:  resd 4                          ; what task B saw
d_rec:  resd 4                          ; what task D saw
a_count: resd 1
        resb 2048
stack_a_top:
        resb 2048
stack_d_top:
        resb 2048
stack_e_top:
        resb 2048
stack_f_top:
        resb 2048
stack_p_top:
        resb 2048
stack_h_top:

section .text
; desc: EDI GDT offset, EAX base, EBX limit (bytes, < 1 MiB), DL access, DH flags (high nibble)
desc:
    pushad
    add edi, gdt
    mov [edi], bx
    mov [edi + 2], ax
    shr eax, 16
    mov [edi + 4], al
    mov [edi + 7], ah
    mov [edi + 5], dl
    shr ebx, 16
    and bl, 0x0F
    or bl, dh
    mov [edi + 6], bl
    popad
    ret

; gate: EDI GDT/IDT address, EAX offset, BX selector, DL access, DH parameter count
gate:
    mov [edi], ax
    mov [edi + 2], bx
    mov [edi + 4], dh
    mov [edi + 5], dl
    shr eax, 16
    mov [edi + 6], ax
    ret

; busy: print the type nibble of the TSS descriptors main, A, B, D
busy:
    pushad
    PUTS " types="
    mov esi, .sels
.next:
    movzx ebx, byte [esi]
    test ebx, ebx
    jz .done
    movzx eax, byte [gdt + ebx + 5]
    and eax, 0x0F
    mov al, [hexdigits + eax]
    call putc
    inc esi
    jmp .next
.done:
    popad
    ret
.sels: db 0x28, 0x30, 0x38, 0x60, 0xA8, 0xB0, 0xC0, 0

kernel_tss:                             ; ESI 386 TSS, EAX EIP, EBX ESP: flat CPL 0 segments
    mov [esi + 0x20], eax
    mov dword [esi + 0x24], 0x2
    mov [esi + 0x38], ebx
    mov dword [esi + 0x48], 0x10
    mov dword [esi + 0x4C], 0x08
    mov dword [esi + 0x50], 0x10
    mov dword [esi + 0x54], 0x10
    ret

smsw_now:
    smsw eax
    ret

flags_cr0:                              ; print EFLAGS and CR0 of the caller
    pushfd
    pop edx
    HEX "eflags", edx, 8
    mov edx, cr0
    HEX "cr0", edx, 8
    ret

%macro FAULT 2                          ; FAULT "text", instruction: its vector and error code
    mov dword [recover], %%back
    mov dword [f_vec], 0xFF
    mov dword [f_err], 0xFFFF
    %2
%%back:
    PUTS %1
    HEX "vec", [f_vec], 2
    HEX "err", [f_err], 4
    NL
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
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, MSTACK
    mov dh, 0
    mov dl, 0x89                        ; available 386 TSS
    mov ebx, 103
    mov edi, 0x28
    mov eax, tss_main
    call desc
    mov edi, 0x30
    mov eax, tss_a
    call desc
    mov edi, 0x60
    mov eax, tss_d
    call desc
    mov edi, 0xA8
    mov eax, tss_e
    call desc
    mov edi, 0xB0
    mov eax, tss_f
    call desc
    mov edi, 0xC0
    mov eax, tss_p
    call desc
    mov edi, 0xE0                       ; H: #TS's task for the user part
    mov eax, tss_h
    call desc
    mov edi, 0xC8                       ; U: a 286 task at CPL 3
    mov eax, tss_u
    mov ebx, 43
    mov dl, 0x81
    call desc
    mov ebx, 103
    mov dl, 0x89
    mov edi, 0x80                       ; a TSS too short for a 386 TSS: #TS
    mov ebx, 0x50
    call desc
    mov edi, 0x38
    mov eax, tss_b
    mov ebx, 43
    mov dl, 0x81                        ; available 286 TSS
    call desc
    mov ebx, 0xFFFF
    mov dl, 0x9A                        ; 16-bit code, DPL 0
    mov edi, 0x50
    mov eax, g16
    call desc
    mov edi, 0x58
    mov eax, task_b
    call desc
    mov dl, 0xFA                        ; 16-bit code, DPL 3
    mov edi, 0x98
    mov eax, user16
    call desc
    mov edi, 0xD8
    mov eax, task_u
    call desc
    mov dl, 0x12                        ; flat data, not present
    mov dh, 0xC0
    mov ebx, 0xFFFFF
    mov edi, 0x68
    xor eax, eax
    call desc
    mov byte [gdt + 0x68 + 6], 0xCF     ; 4 KiB granularity
    ; call gates: 386 DPL 3 (2 dwords), 286 DPL 3 (1 word), not present, DPL 0, to data
    mov eax, g32
    mov bx, 0x08
    mov dx, 0x02EC
    lea edi, [gdt + 0x40]
    call gate
    xor eax, eax
    mov bx, 0x50
    mov dx, 0x01E4
    lea edi, [gdt + 0x48]
    call gate
    mov eax, g32
    mov bx, 0x08
    mov dx, 0x006C
    lea edi, [gdt + 0x70]
    call gate
    mov eax, g32
    mov dx, 0x008C
    lea edi, [gdt + 0x78]
    call gate
    mov bx, 0x10
    mov dx, 0x00EC
    lea edi, [gdt + 0x88]
    call gate
    mov eax, g32
    mov bx, 0xE8
    mov dx, 0x008C
    lea edi, [gdt + 0xF0]
    call gate
    xor eax, eax                        ; task gate DPL 3 to task A
    mov bx, 0x30
    mov dx, 0x00E5
    lea edi, [gdt + 0x90]
    call gate
    mov bx, 0x28                        ; task gate DPL 0 to main's (busy) TSS
    mov dx, 0x0085
    lea edi, [gdt + 0xA0]
    call gate
    mov dx, 0x00E5                      ; and DPL 3, for task U's way back
    lea edi, [gdt + 0xD0]
    call gate
    ; IDT: #TS, #NP, #GP recover; #SS and INT 0x40 through task gates
    mov bx, 0x08
    mov dx, 0x008E
    mov eax, on_ts
    lea edi, [idt + 10 * 8]
    call gate
    mov eax, on_np
    lea edi, [idt + 11 * 8]
    call gate
    mov eax, on_gp
    lea edi, [idt + 13 * 8]
    call gate
    xor eax, eax
    mov bx, 0x60
    mov dx, 0x0085
    lea edi, [idt + 12 * 8]
    call gate
    mov bx, 0x30
    lea edi, [idt + 0x40 * 8]
    call gate
    mov eax, on_int41                   ; DPL 3 interrupt gate, for task U
    mov bx, 0x08
    mov dx, 0x00EE
    lea edi, [idt + 0x41 * 8]
    call gate
    lidt [idtr]
    ; the TSSs
    mov dword [tss_main + 4], KSTACK
    mov dword [tss_main + 8], 0x10
    mov dword [tss_a + 0x20], task_a
    mov dword [tss_a + 0x24], 0x2
    mov dword [tss_a + 0x28], 0xA0A0A0A0
    mov dword [tss_a + 0x34], 0xA3A3A3A3
    mov dword [tss_a + 0x38], stack_a_top
    mov dword [tss_a + 0x40], 0xA6A6A6A6
    mov dword [tss_a + 0x4C], 0x08
    mov dword [tss_a + 0x50], 0x10
    mov dword [tss_a + 0x54], 0x10
    mov dword [tss_a + 0x48], 0x10
    mov dword [tss_d + 0x20], task_d
    mov dword [tss_d + 0x24], 0x2
    mov dword [tss_d + 0x38], stack_d_top
    mov dword [tss_d + 0x4C], 0x08
    mov dword [tss_d + 0x50], 0x10
    mov dword [tss_d + 0x54], 0x10
    mov dword [tss_d + 0x48], 0x10
    mov esi, tss_e                      ; E: its LDT selector names a data segment
    mov eax, task_e
    mov ebx, stack_e_top
    call kernel_tss
    mov dword [tss_e + 0x28], 0xE0E0E0E0
    mov dword [tss_e + 0x60], 0x10
    mov esi, tss_f
    mov eax, task_f
    mov ebx, stack_f_top
    call kernel_tss
    mov esi, tss_h
    mov eax, task_h
    mov ebx, stack_h_top
    call kernel_tss
    mov dword [tss_h + 0x1C], pd1       ; it runs under paging
    mov esi, tss_p                      ; P: its own page directory
    mov eax, task_p
    mov ebx, stack_p_top
    call kernel_tss
    mov dword [tss_p + 0x1C], pd2
    mov dword [tss_main + 0x1C], pd1
    mov word [tss_u + 0x02], 0x9800     ; SP0 (16-bit)
    mov word [tss_u + 0x04], 0x10       ; SS0
    mov word [tss_u + 0x10], 0x0002
    mov word [tss_u + 0x1A], USTACK16
    mov word [tss_u + 0x22], 0x23
    mov word [tss_u + 0x24], 0xDB
    mov word [tss_u + 0x26], 0x23
    mov word [tss_u + 0x28], 0x23
    mov word [tss_b + 0x0E], 0          ; IP
    mov word [tss_b + 0x10], 0x0002     ; FLAGS
    mov word [tss_b + 0x12], 0xB0B0     ; AX
    mov word [tss_b + 0x1A], BSTACK
    mov word [tss_b + 0x22], 0x10       ; ES
    mov word [tss_b + 0x24], 0x58       ; CS
    mov word [tss_b + 0x26], 0x10       ; SS
    mov word [tss_b + 0x28], 0x10       ; DS
    mov ax, 0x28
    ltr ax

    LINE "call 386 TSS"
    mov eax, 0x1234
    call 0x30:0
    PUTS "main"
    call flags_cr0
    call busy
    HEX "a.eip", [tss_a + 0x20], 8
    HEX "a.eflags", [tss_a + 0x24], 8
    HEX "a.esp", [tss_a + 0x38], 8
    HEX "a.link", [tss_a], 4
    HEX "m.eip", [tss_main + 0x20], 8
    HEX "m.eax", [tss_main + 0x28], 8
    HEX "m.cs", [tss_main + 0x4C], 4
    NL
    clts
    LINE "call task gate in GDT"
    call 0x93:0
    LINE "int 0x40 (task gate in IDT)"
    int 0x40
    PUTS "main"
    call flags_cr0
    call busy
    NL
    LINE "jmp 286 TSS"
    jmp 0x38:0
    PUTS "main"
    call flags_cr0
    call busy
    HEX "b.ax", [b_rec], 8
    HEX "b.esp", [b_rec + 4], 8
    HEX "b.flags", [b_rec + 8], 8
    HEX "b.cs", [b_rec + 12], 8
    HEX "b.ip", [tss_b + 0x0E], 4
    HEX "b.link", [tss_b], 4
    HEX "b.sv_ax", [tss_b + 0x12], 4
    HEX "b.sv_flags", [tss_b + 0x10], 4
    HEX "b.sv_sp", [tss_b + 0x1A], 4
    HEX "b.sv_cs", [tss_b + 0x24], 4
    HEX "b.sv_ds", [tss_b + 0x28], 4
    NL
    LINE "#SS through a task gate"
    clts                                ; SMSW's translation builds in CR0 (TS clear)...
    mov ecx, 3
.msw:
    call smsw_now
    loop .msw
    mov [msw_rec], eax
    mov ax, 0x68
    mov ss, ax
    mov ax, ss
    mov dx, 0x10
    mov ss, dx
    push eax
    call smsw_now                       ; ...and sees the TS the task gate's switch set
    mov [msw_rec + 4], eax
    pop eax
    PUTS "main"
    HEX "ss", eax, 4
    HEX "msw", [msw_rec], 4
    HEX "msw_after", [msw_rec + 4], 4
    call busy
    HEX "d.err", [d_rec], 8
    HEX "d.esp", [d_rec + 4], 8
    HEX "d.eflags", [d_rec + 8], 8
    HEX "d.link", [tss_d], 4
    HEX "m.eip", [tss_main + 0x20], 8
    NL
    FAULT "call busy TSS", {call 0x28:0}
    FAULT "call short TSS", {call 0x80:0}
    FAULT "jmp gate not present", {jmp 0x70:0}
    FAULT "call gate RPL 3 > DPL 0", {call 0x7B:0}
    FAULT "call gate to data", {call 0x88:0}
    FAULT "jmp task gate to busy TSS", {jmp 0xA0:0}
    FAULT "jmp gate to code not present", {jmp 0xF0:0}
    FAULT "call gate to code not present", {call 0xF0:0}
%ifdef TS_IN_NEW_TASK
    ; QEMU 7.2 saves a wrong EIP for the new task here (the CALL's address plus 0x1000, not
    ; the task's first instruction, SDM vol. 3 7.3 step 12); tests/test_tasks.py checks bt.
    LINE "#TS in the new task (LDT 0x10) through a task gate"
    mov eax, [idt + 10 * 8]             ; #TS becomes a task gate to F for a while
    mov edx, [idt + 10 * 8 + 4]
    push eax
    push edx
    mov dword [idt + 10 * 8], 0x00B00000
    mov dword [idt + 10 * 8 + 4], 0x00008500
    call 0xA8:0
    pop dword [idt + 10 * 8 + 4]
    pop dword [idt + 10 * 8]
    PUTS "main"
    call flags_cr0
    call busy
    HEX "e.link", [tss_e], 4
    HEX "f.link", [tss_f], 4
    NL
    ; The T bit of E's TSS: #DB before E's next instruction (QEMU 7.2 ignores the T bit).
    LINE "T bit"
    mov eax, on_db
    mov bx, 0x08
    mov dx, 0x008E
    lea edi, [idt + 1 * 8]
    call gate
    mov word [tss_e + 0x64], 1
    call 0xA8:0
    PUTS "main"
    HEX "db.eip", [db_rec], 8
    HEX "e.again", task_e.again, 8
    HEX "db.dr6", [db_rec + 4], 8
    NL
%endif
    LINE "iret NT to an available TSS"
    mov word [tss_main], 0x30
    mov dword [recover], .nt_back
    mov dword [f_vec], 0xFF
    pushfd
    or dword [esp], 0x4000
    popfd
    iretd
.nt_back:
    pushfd
    and dword [esp], ~0x4000
    popfd
    HEX "vec", [f_vec], 2
    HEX "err", [f_err], 4
    NL
    LINE "task with its own CR3"
    mov dword [0x400000], 0x44444444
    mov dword [0x800000], 0x88888888
    mov eax, 0x87                       ; present, writable, user, 4 MiB
    mov edi, pd1
    mov ecx, 4
.pde:
    mov [edi], eax
    mov [edi + pd2 - pd1], eax
    add eax, 0x400000
    add edi, 4
    loop .pde
    mov dword [pd2 + 4], 0x800087
    mov eax, cr4
    or eax, 0x10                        ; PSE
    mov cr4, eax
    mov eax, pd1
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    call 0xC0:0
    mov edx, cr3
    PUTS "main"
    HEX "cr3", edx, 8
    HEX "[4M]", [0x400000], 8
    HEX "p.cr3", [tss_p + 0x1C], 8
    HEX "m.cr3", [tss_main + 0x1C], 8
    NL
    LINE "jmp 286 TSS at CPL 3: 286 gate and INT through its SS0:SP0"
    jmp 0xC8:0
    PUTS "main"
    HEX "g16.cs", [g_rec], 4
    HEX "g16.esp", [g_rec + 8], 8
    HEX "g16.f0", [g_rec + 12], 8
    HEX "g16.f1", [g_rec + 16], 8
    HEX "g16.f2", [g_rec + 20], 4
    NL
    PUTS "main"
    HEX "int.esp", [i_rec], 8
    HEX "int.ss", [i_rec + 4], 4
    HEX "int.old_esp", [i_rec + 8], 8
    HEX "int.old_ss", [i_rec + 12], 4
    HEX "u.ip", [tss_u + 0x0E], 4
    HEX "u.sp", [tss_u + 0x1A], 4
    HEX "u.cs", [tss_u + 0x24], 4
    HEX "u.desc", [gdt + 0xC8 + 4], 8
    NL
    LINE "same-level call gate"
    push 0x11111111
    push 0x22222222
    call 0x40:0
    mov ebx, esp
    PUTS "g32"
    HEX "cs", [g_rec], 4
    HEX "ss", [g_rec + 4], 4
    HEX "p0", [g_rec + 16], 8
    HEX "p1", [g_rec + 20], 8
    mov eax, MSTACK
    sub eax, ebx
    HEX "esp_delta", eax, 4
    NL
    LINE "jmp through call gate"
    mov dword [via_jmp], 1
    jmp 0x40:0

g32:                                    ; 386 gate target: record the frame, RETF 8
    mov [g_rec + 8], esp
    mov eax, cs
    mov [g_rec], eax
    mov eax, ss
    mov [g_rec + 4], eax
    mov eax, [esp + 4]
    mov [g_rec + 12], eax
    mov eax, [esp + 8]
    mov [g_rec + 16], eax
    mov eax, [esp + 12]
    mov [g_rec + 20], eax
    mov eax, [esp + 16]
    mov [g_rec + 24], eax
    mov eax, [esp + 20]
    mov [g_rec + 28], eax
    cmp dword [via_jmp], 0              ; a JMP through the gate: nothing to return to
    je .ret
    mov dword [via_jmp], 0
    PUTS "g32 reached by jmp"
    mov eax, cs
    HEX "cs", eax, 4
    NL
    jmp to_user
.ret:
    retf 8

task_a:                                 ; a 386 task: prints what it sees, IRET to its caller
    inc dword [a_count]
    PUTS "task A"
    DEC "n", [a_count]
    HEX "eax", eax, 8
    HEX "ebx", ebx, 8
    HEX "esi", esi, 8
    mov edx, esp
    HEX "esp", edx, 8
    call flags_cr0
    str dx
    HEX "tr", edx, 4
    HEX "link", [tss_a], 4
    mov edx, cs
    HEX "cs", edx, 4
    mov edx, ds
    HEX "ds", edx, 4
    call busy
    NL
    mov eax, 0xA1A1A1A1
    iretd
    jmp task_a

task_e:                                 ; runs once F has put right its LDT selector
    PUTS "task E"
    HEX "eax", eax, 8
    str dx
    HEX "tr", edx, 4
    sldt dx
    HEX "ldtr", edx, 4
    call flags_cr0
    call busy
    NL
    iretd
.again:
    jmp task_e

task_f:                                 ; #TS's task: E's state as saved, then a null LDT
    pop eax
    PUTS "task F"
    HEX "err", eax, 4
    HEX "task_e", task_e, 8
    HEX "link", [tss_f], 4
    HEX "e.eip", [tss_e + 0x20], 8
    HEX "e.eax", [tss_e + 0x28], 8
    HEX "e.eflags", [tss_e + 0x24], 8
    HEX "e.ds", [tss_e + 0x54], 4
    call busy
    NL
    mov word [tss_e + 0x60], 0
    iretd
    jmp task_f

task_h:                                 ; #TS from user code: SS0 put right
    pop eax
    mov [h_rec], eax
    movzx eax, word [tss_h]
    mov [h_rec + 4], eax
    mov word [tss_main + 8], 0x10
    iretd
    jmp task_h

task_p:                                 ; under pd2
    mov edx, cr3
    PUTS "task P"
    HEX "cr3", edx, 8
    HEX "[4M]", [0x400000], 8
    NL
    iretd
    jmp task_p

task_d:                                 ; #SS's task: the error code, then make 0x68 present
    pop eax
    mov [d_rec], eax
    mov [d_rec + 4], esp
    pushfd
    pop dword [d_rec + 8]
    or byte [gdt + 0x68 + 5], 0x80
    iretd
    jmp task_d

on_int41:                               ; from task U at CPL 3: the stack its 286 TSS gave
    mov [i_rec], esp
    mov eax, ss
    mov [i_rec + 4], eax
    mov eax, [esp + 12]
    mov [i_rec + 8], eax
    mov eax, [esp + 16]
    mov [i_rec + 12], eax
    iretd

on_db:                                  ; #DB: where it returns to, and DR6
    push eax
    mov eax, [esp + 4]
    mov [db_rec], eax
    mov eax, dr6
    mov [db_rec + 4], eax
    pop eax
    iretd

on_ts: push 10
    jmp on_fault
on_np: push 11
    jmp on_fault
on_gp: push 13
on_fault:
    pop dword [f_vec]
    pop dword [f_err]
    push eax
    mov eax, [recover]
    mov [esp + 4], eax
    pop eax
    iretd

to_user:
    LINE "to CPL 3"
    mov ax, 0x23
    mov ds, ax
    mov es, ax
    push dword 0x23
    push dword USTACK
    push dword 0x3002                   ; IOPL 3: CPL 3 prints
    push dword 0x1B
    push dword user
    iretd

user:
    mov eax, cs
    PUTS "user"
    HEX "cs", eax, 4
    NL
    push 0x33333333
    push 0x44444444
    call 0x43:0
    mov ebx, esp
    mov edx, ss
    PUTS "g32 inner"
    HEX "cs", [g_rec], 4
    HEX "ss", [g_rec + 4], 4
    HEX "esp", [g_rec + 8], 8
    HEX "ret_cs", [g_rec + 12], 4
    HEX "p0", [g_rec + 16], 8
    HEX "p1", [g_rec + 20], 8
    HEX "old_esp", [g_rec + 24], 8
    HEX "old_ss", [g_rec + 28], 4
    HEX "esp_after", ebx, 8
    HEX "ss_after", edx, 4
    NL
    jmp 0x9B:0
user2:
    mov ebx, esp
    PUTS "g16 inner"
    HEX "cs", [g_rec], 4
    HEX "ss", [g_rec + 4], 4
    HEX "esp", [g_rec + 8], 8
    HEX "f0", [g_rec + 12], 8
    HEX "f1", [g_rec + 16], 8
    HEX "f2", [g_rec + 20], 4
    HEX "esp_after", ebx, 8
    NL
    LINE "#TS from a bad SS0 on an inner call, through a task gate"
    mov word [tss_main + 8], 0x13       ; RPL 3 != the target's DPL 0: #TS(0x10)
    mov dword [idt + 10 * 8], 0x00E00000
    mov dword [idt + 10 * 8 + 4], 0x00008500
    push 0x77777777
    push 0x66666666
ts_call:
    call 0x43:0                         ; H puts SS0 right and IRETs back to it
    mov ebx, esp
    mov edx, cs
    PUTS "user"
    HEX "h.err", [h_rec], 4
    HEX "h.link", [h_rec + 4], 4
    HEX "m.eip", [tss_main + 0x20], 8
    HEX "ts_call", ts_call, 8
    HEX "m.cs", [tss_main + 0x4C], 4
    HEX "m.ss", [tss_main + 0x50], 4
    HEX "m.esp", [tss_main + 0x38], 8
    HEX "p0", [g_rec + 16], 8
    HEX "esp_after", ebx, 8
    HEX "cs", edx, 4
    NL
    FAULT "CPL 3 call gate DPL 0", {call 0x7B:0}
    FAULT "CPL 3 call busy TSS DPL 0", {call 0x2B:0}
    LINE "done"
    EXIT 0

bits 16
g16:                                    ; 286 gate target (CS base = g16): 16-bit frame
    mov ax, cs
    mov [dword g_rec], ax
    mov ax, ss
    mov [dword g_rec + 4], ax
    mov [dword g_rec + 8], esp
    mov eax, [esp]
    mov [dword g_rec + 12], eax
    mov eax, [esp + 4]
    mov [dword g_rec + 16], eax
    mov eax, [esp + 8]
    mov [dword g_rec + 20], eax
    retf 2

user16:                                 ; CPL 3, 16-bit (CS base = user16)
    push word 0x5555
    call 0x4B:0
    jmp dword 0x1B:user2

task_u:                                 ; a 286 task at CPL 3 (CS base = task_u)
    push word 0x6666
    call 0x4B:0
    int 0x41
    jmp 0xD3:0                          ; back to main through a DPL 3 task gate

task_b:                                 ; a 286 task (CS base = task_b): JMP back to main
    mov [dword b_rec], eax
    mov [dword b_rec + 4], esp
    pushfd
    pop dword [dword b_rec + 8]
    mov ax, cs
    mov [dword b_rec + 12], ax
    jmp 0x28:0
bits 32
