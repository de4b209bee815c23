; hhentry: entry of the higher-half kernel (hhkernel.c): enables PSE paging with the kernel at
; 0xC0100000 before any output, drops the identity page, calls kmain; interrupt stubs, the
; fault fixup table, the jump to CPL 3, and the user program (copied to 0x08048000).
bits 32
KOFF     equ 0xC0000000
MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00000003
UBASE    equ 0x08048000                 ; where the kernel maps the user program
%define UVA(x) (UBASE + ((x) - user_prog))

section .multiboot
align 4
    dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

section .data
align 4096
global boot_pd
boot_pd:                                ; the one page directory (kmain edits it later)
    times 1024 dd 0

section .bss
alignb 16
    resb 16384
global kstack_top
kstack_top:

section .text
global boot_entry
boot_entry:                             ; runs at its physical address, paging off
    mov esi, eax                        ; Multiboot magic and info survive in ESI/EDI
    mov edi, ebx
    mov dword [boot_pd - KOFF + 0], 0x00000083          ; 0-4 MiB identity: PS, RW, P
    mov dword [boot_pd - KOFF + 768 * 4], 0x00000083    ; 0xC0000000 -> physical 0
    mov eax, cr4
    or eax, 0x10                        ; PSE
    mov cr4, eax
    mov eax, boot_pd - KOFF
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80010000                  ; PG, WP
    mov cr0, eax
    mov eax, high
    jmp eax                             ; from the identity page to the kernel's address
high:
    mov dword [boot_pd], 0              ; the identity page was only for the switch
    mov eax, cr3                        ; drop every TLB entry of it (a 4 MiB page may be
    mov cr3, eax                        ; held as several smaller entries)
    mov esp, kstack_top
    cld
    push edi
    push esi
    call kmain
.halt:
    cli
    hlt
    jmp .halt

extern kmain, page_fault, syscall, stray_trap

; Interrupt stubs: each builds a struct frame (pushad over the error code) for the C handler.
global isr14, isr128, isr_stray
isr14:
    pushad
    push esp
    call page_fault
    add esp, 4
    popad
    add esp, 4
    iretd
isr128:
    push dword 0
    pushad
    push esp
    call syscall
    add esp, 4
    popad
    add esp, 4
    iretd
isr_stray:
    call stray_trap

; enter_user(eip, esp): IRET to CPL 3 with the user's data segments.
global enter_user
enter_user:
    mov eax, [esp + 4]
    mov ecx, [esp + 8]
    mov dx, 0x23
    mov ds, dx
    mov es, dx
    mov fs, dx
    mov gs, dx
    push dword 0x23
    push ecx
    push dword 0x202                    ; IF = 1 (every IRQ is masked at the PIC)
    push dword 0x1B
    push eax
    iretd

; probe_read(addr): the dword at addr, or 0xDEADDEAD when reading it faults (the #PF handler
; finds probe_at in the fixup table and resumes at probe_fail with EAX set).
global probe_read
probe_read:
    mov ecx, [esp + 4]
probe_at:
    mov eax, [ecx]
    ret
probe_fail:
    mov eax, 0xDEADDEAD
    ret

section .rodata
; (fault EIP, resume EIP) pairs, ended by 0: where a #PF is expected and how to go on.
global fixups
fixups:
    dd probe_at, probe_fail
    dd UVA(ro_write), UVA(ro_write_end)
    dd 0, 0

section .text
; The user program: position-dependent at UBASE (UVA), system calls by INT 0x80:
; EAX=1 write(EBX=string, ECX=length); EAX=2 print(EBX=name, ECX=value); EAX=3 exit(EBX).
global user_prog, user_prog_end
user_prog:
    mov eax, 1
    mov ebx, UVA(msg)
    mov ecx, msg_end - msg
    int 0x80
    mov eax, 2
    mov ebx, UVA(s_cs)
    mov ecx, cs
    int 0x80
    mov eax, 2
    mov ebx, UVA(s_esp)
    mov ecx, esp
    int 0x80
    ; four heap pages at 0x10000000, each mapped on demand by the first write to it
    xor esi, esi
    xor edx, edx
.fill:
    mov edi, edx
    shl edi, 12
    lea eax, [edx + 1]
    imul eax, eax, 0x01010101
    mov [0x10000000 + edi + edx * 4], eax
    add esi, [0x10000000 + edi + edx * 4]
    inc edx
    cmp edx, 4
    jb .fill
    push esi                            ; a second stack page, mapped on demand too
    sub esp, 4096
    mov dword [esp], 0x5A5A5A5A
    add esp, 4096
    pop esi
    mov eax, 2
    mov ebx, UVA(s_sum)
    mov ecx, esi
    int 0x80
ro_write:
    mov dword [UVA(user_prog)], 0       ; the code page is read-only: #PF, the kernel skips it
ro_write_end:
    mov eax, 2
    mov ebx, UVA(s_code)
    mov ecx, [UVA(user_prog)]
    int 0x80
    mov eax, 3
    mov ebx, 7
    int 0x80
msg:    db "hello from CPL 3 at 0x08048000", 10
msg_end:
s_cs:   db "cs", 0
s_esp:  db "esp", 0
s_sum:  db "heap sum", 0
s_code: db "code still", 0
user_prog_end:
