; demo: the guest `bt run` boots by default: one friendly line per sensitive-instruction class.
%include "common.inc"

section .data
align 8
gdt:
    dq 0                                ; 0x00 null
    dq 0x00CF9A000000FFFF               ; 0x08 code, flat
    dq 0x00CF92000000FFFF               ; 0x10 data, flat
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 0x31 * 8 - 1
        dd idt
seen_vector: dd 0
seen_cs:     dd 0

section .bss
align 8
idt:     resq 0x31
dtbuf:   resb 8
vendor:  resb 16

section .text
main:
    mov al, 0xFF                        ; mask PIC IRQs: STI below stays quiet
    out 0x21, al
    out 0xA1, al

    LINE "Hello from the bt demo guest: what a 32-bit kernel observes of its machine."
    mov eax, [mb_magic]
    PUTS "[boot]     Multiboot magic in EAX"
    ARROW eax, 8
    NL

    ; Flags.
    mov eax, [entry_eflags]
    shr eax, 9
    and eax, 1
    PUTS "[flags]    PUSHFD at entry: IF"
    ARROWD eax
    NL
    sti
    push dword 0x2
    popfd
    pushfd
    pop eax
    shr eax, 9
    and eax, 1
    PUTS "[flags]    STI, then POPFD tried to clear IF: IF"
    ARROWD eax
    LINE " (a CPL 0 kernel may clear it)"
    push dword 0x3002
    popfd
    pushfd
    pop eax
    shr eax, 12
    and eax, 3
    PUTS "[flags]    POPFD tried to set IOPL=3: IOPL"
    ARROWD eax
    NL
    push dword 0x2
    popfd

    ; Descriptor tables as the loader left them.
    sgdt [dtbuf]
    movzx eax, word [dtbuf]
    PUTS "[tables]   SGDT"
    PUTS " ->"
    HEX "base", [dtbuf + 2], 8
    HEX "limit", eax, 4
    NL
    sidt [dtbuf]
    movzx eax, word [dtbuf]
    PUTS "[tables]   SIDT"
    PUTS " ->"
    HEX "base", [dtbuf + 2], 8
    HEX "limit", eax, 4
    NL
    sldt ax
    movzx eax, ax
    PUTS "[tables]   SLDT"
    ARROW eax, 4
    str ax
    movzx ebx, ax
    PUTS ", STR"
    ARROW ebx, 4
    NL
    lgdt [gdtr]
    jmp 0x08:.reloaded
.reloaded:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    sgdt [dtbuf]
    movzx eax, word [dtbuf]
    mov ebx, [dtbuf + 2]
    PUTS "[tables]   LGDT of the guest's own GDT, then SGDT"
    PUTS " ->"
    HEX "base", ebx, 8
    HEX "limit", eax, 4
    NL

    ; Segments.
    mov eax, cs
    PUTS "[segments] MOV from CS"
    ARROW eax, 4
    mov eax, ss
    PUTS ", MOV from SS"
    ARROW eax, 4
    NL
    push cs
    pop eax
    PUTS "[segments] PUSH CS pushed"
    ARROW eax, 8
    NL
    mov ecx, 0x08
    lar eax, ecx
    PUTS "[segments] LAR of the code selector"
    ARROW eax, 8
    mov ecx, 0x10
    lsl eax, ecx
    PUTS ", LSL of the data selector"
    ARROW eax, 8
    NL

    ; Control registers.
    smsw eax
    PUTS "[control]  SMSW"
    ARROW eax, 8
    mov eax, cr0
    PUTS ", MOV from CR0"
    ARROW eax, 8
    mov eax, cr4
    PUTS ", CR4"
    ARROW eax, 8
    NL

    ; Port I/O.
    mov dx, COM1 + 7
    mov al, 0x5A
    out dx, al
    in al, dx
    movzx eax, al
    PUTS "[io]       OUT 0x5a to the COM1 scratch register, IN reads back"
    ARROW eax, 2
    NL

    ; CPUID.
    xor eax, eax
    cpuid
    mov [vendor], ebx
    mov [vendor + 4], edx
    mov [vendor + 8], ecx
    PUTS "[cpuid]    CPUID leaf 0 vendor -> "
    mov esi, vendor
    call puts
    mov eax, 1
    cpuid
    PUTS ", leaf 1 signature"
    ARROW eax, 8
    NL

    ; INT n through the guest's own IDT.
    mov eax, on_int
    mov [idt + 0x30 * 8], ax
    mov word [idt + 0x30 * 8 + 2], 0x08
    mov word [idt + 0x30 * 8 + 4], 0x8E00
    shr eax, 16
    mov [idt + 0x30 * 8 + 6], ax
    lidt [idtr]
    int 0x30
    PUTS "[int]      INT 0x30 through the guest's IDT: handler saw vector"
    ARROW [seen_vector], 2
    PUTS ","
    HEX "pushed CS", [seen_cs], 4
    NL

    cli
    LINE "Demo finished: exiting through port 0xf4 with value 0."
    EXIT 0

on_int:
    mov dword [seen_vector], 0x30
    push eax
    mov eax, [esp + 8]
    mov [seen_cs], eax
    pop eax
    iret
