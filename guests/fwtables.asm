; fwtables: the firmware tables a Multiboot kernel finds as an OS does, checked and printed.
; MP floating pointer (EBDA's first KiB, the last KiB of base memory, the BIOS ROM F0000-FFFFF,
; on 16-byte boundaries), its configuration table entry by entry; the ACPI RSDP (EBDA, then
; E0000-FFFFF) and, through the RSDT, the MADT (the table an OS takes its APICs from; the RSDT's
; other entries are not printed); the SMBIOS entry point and every structure with its strings;
; the PnP BIOS "$PnP" header, then its 16-bit protected-mode entry called as Linux calls it (a
; far call with a 16-bit code selector based at the header's base, the arguments as words).
%include "common.inc"

SIG_MP   equ 0x5F504D5F                 ; "_MP_"
SIG_RSD  equ 0x20445352                 ; "RSD "
SIG_PTR  equ 0x20525450                 ; "PTR "
SIG_SM   equ 0x5F4D535F                 ; "_SM_"
SIG_PNP  equ 0x506E5024                 ; "$PnP"
SIG_APIC equ 0x43495041                 ; "APIC"
LENBYTE  equ 0x80000000                 ; find: the checksummed length is the byte at EBX's offset
THUNK    equ 0x7000                     ; below 64 KiB: the 16-bit RETF's IP reaches it
VERSION  equ 0x7100                     ; where PnP function 60h stores its version word
SEL_PNP_CODE equ 0x18                   ; 16-bit code at the PnP header's protected-mode base
SEL_LOW_DATA equ 0x20                   ; 16-bit data at 0 (the far pointers' selector)

; FIELD8 "name", [mem] / FIELD16: print " name=0x.." of a byte / word (clobbers EAX).
%macro FIELD8 2
    movzx eax, byte %2
    HEX %1, eax, 2
%endmacro
%macro FIELD16 2
    movzx eax, word %2
    HEX %1, eax, 4
%endmacro

section .text
main:
    lgdt [gdt_ptr]
    call mp
    call acpi
    call smbios
    call pnp
    LINE "done"
    EXIT 0

; find: EAX = signature dword, EDX = second dword (0: none), ESI = start, ECX = bytes, EBX =
; checksummed length (or LENBYTE | offset of a byte holding it, in 16-byte units if EBX bit 30).
; Returns EAX = address of the first match whose checksum is 0, or 0.
find:
    push esi
    push ecx
    push edi
.next:
    cmp [esi], eax
    jne .skip
    test edx, edx
    jz .sum
    cmp [esi + 4], edx
    jne .skip
.sum:
    mov edi, ebx
    test ebx, LENBYTE
    jz .fixed
    and edi, 0xFF
    movzx edi, byte [esi + edi]
    test ebx, 0x40000000
    jz .fixed
    shl edi, 4
.fixed:
    push ecx
    push esi
    mov ecx, edi
    call sum
    pop esi
    pop ecx
    test al, al
    jnz .skip
    mov eax, esi
    jmp .out
.skip:
    add esi, 16
    sub ecx, 16
    ja .next
    xor eax, eax
.out:
    pop edi
    pop ecx
    pop esi
    ret

; find_fseg: find EAX in the BIOS ROM (F0000-FFFFF), the length byte at offset 5 (SMBIOS, PnP).
find_fseg:
    xor edx, edx
    mov ebx, LENBYTE | 5
    mov esi, 0xF0000
    mov ecx, 0x10000
    jmp find

; sum: AL = the byte sum of ECX bytes at ESI.
sum:
    push esi
    push ecx
    xor eax, eax
    jecxz .out                          ; a length byte of 0: nothing (LOOP would run 4G times)
.add:
    add al, [esi]
    inc esi
    loop .add
.out:
    pop ecx
    pop esi
    ret

; putn: ECX characters at ESI.
putn:
    pushad
.c:
    lodsb
    call putc
    loop .c
    popad
    ret

; putbytes: ECX bytes at ESI as hex pairs.
putbytes:
    pushad
.b:
    lodsb
    movzx eax, al
    mov ebx, eax
    shr eax, 4
    mov al, [hexdigits + eax]
    call putc
    and ebx, 15
    mov al, [hexdigits + ebx]
    call putc
    loop .b
    popad
    ret

; sumok: print " sum=ok" or " sum=bad" for ECX bytes at ESI.
sumok:
    push eax
    call sum
    test al, al
    jnz .bad
    PUTS " sum=ok"
    pop eax
    ret
.bad:
    PUTS " sum=bad"
    pop eax
    ret

; -- MP ---------------------------------------------------------------------------------------
mp:
    mov eax, SIG_MP
    xor edx, edx
    mov ebx, LENBYTE | 0x40000000 | 8
    movzx esi, word [0x40E]             ; the EBDA's segment
    shl esi, 4
    mov ecx, 1024
    call find
    test eax, eax
    jnz .found
    movzx esi, word [0x413]             ; base memory in KiB: its last KiB
    dec esi
    shl esi, 10
    mov eax, SIG_MP                     ; find returned 0 in it
    call find
    test eax, eax
    jnz .found
    mov esi, 0xF0000
    mov ecx, 0x10000
    mov eax, SIG_MP
    call find
    test eax, eax
    jnz .found
    LINE "mp none"
    ret
.found:
    mov edi, eax
    PUTS "mp"
    HEX "float", edi, 8
    HEX "config", [edi + 4], 8
    FIELD8 "spec", [edi + 9]
    FIELD8 "feature1", [edi + 11]
    NL
    mov edi, [edi + 4]
    PUTS "mp oem="
    lea esi, [edi + 8]
    mov ecx, 8
    call putn
    PUTS " product="
    lea esi, [edi + 16]
    mov ecx, 12
    call putn
    movzx ecx, word [edi + 4]
    DEC "len", ecx
    movzx eax, word [edi + 34]
    DEC "count", eax
    HEX "lapic", [edi + 36], 8
    mov esi, edi
    call sumok
    NL
    movzx ebp, word [edi + 34]          ; entries
    add edi, 44
.entry:
    test ebp, ebp
    jz .done
    movzx eax, byte [edi]
    cmp al, 0
    je .cpu
    mov ecx, 8
    PUTS " "
    HEX "type", eax, 2
    PUTS " "
    mov esi, edi
    call putbytes
    NL
    add edi, 8
    dec ebp
    jmp .entry
.cpu:
    PUTS " cpu"
    FIELD8 "id", [edi + 1]
    FIELD8 "ver", [edi + 2]
    FIELD8 "flags", [edi + 3]
    HEX "signature", [edi + 4], 8
    HEX "features", [edi + 8], 8
    NL
    add edi, 20
    dec ebp
    jmp .entry
.done:
    ret

; -- ACPI -------------------------------------------------------------------------------------
acpi:
    mov eax, SIG_RSD
    mov edx, SIG_PTR
    mov ebx, 20
    movzx esi, word [0x40E]
    shl esi, 4
    mov ecx, 1024
    call find
    test eax, eax
    jnz .found
    mov esi, 0xE0000
    mov ecx, 0x20000
    mov eax, SIG_RSD
    call find
    test eax, eax
    jnz .found
    LINE "rsdp none"
    ret
.found:
    mov edi, eax
    PUTS "rsdp"
    HEX "at", edi, 8
    PUTS " oem="
    lea esi, [edi + 9]
    mov ecx, 6
    call putn
    FIELD8 "rev", [edi + 15]
    HEX "rsdt", [edi + 16], 8
    NL
    mov edi, [edi + 16]
    PUTS "rsdt sig="
    mov esi, edi
    mov ecx, 4
    call putn
    mov ecx, [edi + 4]
    call sumok
    NL
    sub ecx, 36
    shr ecx, 2
    lea esi, [edi + 36]
.table:
    jecxz .nomadt
    mov ebx, [esi]
    cmp dword [ebx], SIG_APIC
    je .madt
    add esi, 4
    dec ecx
    jmp .table
.nomadt:
    LINE "madt none"
    ret
.madt:
    PUTS "madt"
    HEX "at", ebx, 8
    mov ecx, [ebx + 4]
    DEC "len", ecx
    FIELD8 "rev", [ebx + 8]
    PUTS " oem="
    lea esi, [ebx + 10]
    push ecx
    mov ecx, 14
    call putn
    pop ecx
    HEX "lapic", [ebx + 36], 8
    HEX "flags", [ebx + 40], 8
    mov esi, ebx
    call sumok
    NL
    lea edi, [ebx + 44]
    add ebx, ecx                        ; end
.entry:
    cmp edi, ebx
    jae .done
    movzx ecx, byte [edi + 1]
    test ecx, ecx
    jz .done
    PUTS " "
    mov esi, edi
    call putbytes
    NL
    add edi, ecx
    jmp .entry
.done:
    ret

; -- SMBIOS -----------------------------------------------------------------------------------
smbios:
    mov eax, SIG_SM
    call find_fseg
    test eax, eax
    jnz .found
    LINE "smbios none"
    ret
.found:
    mov edi, eax
    PUTS "smbios"
    HEX "at", edi, 8
    movzx eax, byte [edi + 6]
    DEC "major", eax
    movzx eax, byte [edi + 7]
    DEC "minor", eax
    movzx eax, word [edi + 8]
    DEC "max", eax
    HEX "table", [edi + 0x18], 8
    movzx eax, word [edi + 0x16]
    DEC "len", eax
    movzx eax, word [edi + 0x1C]
    DEC "count", eax
    movzx ecx, byte [edi + 5]
    mov esi, edi
    call sumok
    PUTS " dmi"
    lea esi, [edi + 0x10]
    mov ecx, 15
    call sumok
    NL
    movzx ebp, word [edi + 0x1C]        ; structures
    mov edi, [edi + 0x18]
.struct:
    test ebp, ebp
    jz .done
    movzx eax, byte [edi]
    DEC "type", eax
    movzx ecx, byte [edi + 1]
    FIELD16 "handle", [edi + 2]
    PUTS " "
    mov esi, edi
    call putbytes
    NL
    add edi, ecx                        ; the strings: each on its line, to the double NUL
    cmp word [edi], 0
    jne .string
    add edi, 2                          ; an empty string set is two NULs
    jmp .next
.string:
    PUTS "  '"
    mov esi, edi
    call puts
    LINE "'"
.skip:
    inc edi
    cmp byte [edi - 1], 0
    jne .skip
    cmp byte [edi], 0
    jne .string
    inc edi                             ; the set's closing NUL
.next:
    dec ebp
    jmp .struct
.done:
    ret

; -- PnP --------------------------------------------------------------------------------------
pnp:
    mov eax, SIG_PNP
    call find_fseg
    test eax, eax
    jnz .found
    LINE "pnp none"
    ret
.found:
    mov edi, eax
    PUTS "pnp"
    HEX "at", edi, 8
    FIELD8 "ver", [edi + 4]
    FIELD8 "len", [edi + 5]
    FIELD16 "real_cs", [edi + 0x0F]
    FIELD16 "real_ip", [edi + 0x0D]
    HEX "prot_base", [edi + 0x13], 8
    FIELD16 "prot_ip", [edi + 0x11]
    FIELD16 "real_ds", [edi + 0x1B]
    HEX "prot_ds", [edi + 0x1D], 8
    NL
    ; The 16-bit code selector at the header's protected-mode base, as Linux's pnpbios sets it.
    mov eax, [edi + 0x13]
    mov [gdt_pnp + 2], ax
    shr eax, 16
    mov [gdt_pnp + 4], al
    mov [gdt_pnp + 7], ah
    mov ax, [edi + 0x11]
    mov [pnp_entry], ax
    lgdt [gdt_ptr]
    mov esi, thunk                      ; the caller below 64 KiB: the entry's RETF is 16-bit
    mov edi, THUNK
    mov ecx, thunk_end - thunk
    rep movsb
    mov word [VERSION], 0
    xor eax, eax                        ; 00h: get number of system device nodes
    call THUNK
    PUTS "pnp fn=0x00"
    HEX "ax", eax, 4
    NL
    mov eax, 0x60                       ; 60h: get version and installation check
    call THUNK
    PUTS "pnp fn=0x60"
    HEX "ax", eax, 4
    FIELD16 "version", [VERSION]
    NL
    ret

; thunk (copied to THUNK): the PnP call with AX = function and a far pointer to VERSION.
thunk:
    push ebx
    push word SEL_LOW_DATA
    push word VERSION
    push ax
    o16 call far [pnp_entry]
    add esp, 6
    movzx eax, ax
    pop ebx
    ret
thunk_end:

section .data
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF               ; 0x08 flat 32-bit code
    dq 0x00CF92000000FFFF               ; 0x10 flat 32-bit data
gdt_pnp:
    dq 0x00009A000000FFFF               ; 0x18 16-bit code, base set from the $PnP header
    dq 0x000092000000FFFF               ; 0x20 16-bit data at 0
gdt_end:
gdt_ptr:
    dw gdt_end - gdt - 1
    dd gdt
pnp_entry:
    dw 0, SEL_PNP_CODE
