; pci: PCI bus 0 through configuration mechanism 1 (each function's 256 bytes of configuration
; space as the firmware left them, its BARs sized, 1/2/4-byte accesses, read-only fields
; written) and QEMU's fw_cfg (signature, ID, UUID, RAM size, CPU counts, boot menu, the file
; directory). On a machine without PCI (isapc) 0xCF8/0xCFC read as all ones.
%include "common.inc"

CONFIG_ADDRESS equ 0xCF8
CONFIG_DATA    equ 0xCFC
ENABLE         equ 0x80000000
FW_CFG_CTL     equ 0x510
FW_CFG_DATA    equ 0x511

section .bss
header_type: resd 1
bar_off:     resd 1
nfiles:      resd 1
name_buf:    resb 60

section .text
; cfg_addr: EAX = bus/dev/fn/register (no enable bit) -> CONFIG_ADDRESS with the enable bit.
cfg_addr:
    push edx
    or eax, ENABLE
    and al, 0xFC
    mov dx, CONFIG_ADDRESS
    out dx, eax
    pop edx
    ret

; cfg_read: EAX = address (register offset in AL) -> EAX = the dword there.
cfg_read:
    push edx
    call cfg_addr
    mov dx, CONFIG_DATA
    in eax, dx
    pop edx
    ret

; cfg_write: EAX = address, EBX = value.
cfg_write:
    push edx
    push eax
    call cfg_addr
    mov dx, CONFIG_DATA
    mov eax, ebx
    out dx, eax
    pop eax
    pop edx
    ret

; hexd: EAX as ECX hex digits, no prefix.
hexd:
    pushad
    mov ebx, eax
    mov edx, ecx
    shl ecx, 2
.digit:
    sub ecx, 4
    mov eax, ebx
    shr eax, cl
    and eax, 15
    mov al, [hexdigits + eax]
    call putc
    dec edx
    jnz .digit
    popad
    ret

; sp_hex8: " 0x" and EAX as 8 digits.
sp_hex8:
    push ecx
    push eax
    mov al, ' '
    call putc
    pop eax
    mov ecx, 8
    call puthex
    pop ecx
    ret

; dump_space: EDI = function address; the 64 dwords of its configuration space, 8 a line.
dump_space:
    pushad
    xor esi, esi
.row:
    PUTS "  "
    mov eax, esi
    mov ecx, 2
    call puthex
    PUTS ":"
    mov ebp, 8
.col:
    mov eax, edi
    or eax, esi
    call cfg_read
    call sp_hex8
    add esi, 4
    dec ebp
    jnz .col
    NL
    cmp esi, 256
    jb .row
    popad
    ret

; size_bars: EDI = function address; each BAR (and the ROM BAR of a type 0 header) written
; with all ones, read back and restored.
size_bars:
    pushad
    PUTS "  bars"
    mov esi, 0x10
    mov ebp, 0x28                       ; type 0: BAR0-BAR5
    test byte [header_type], 0x7F
    jz .next
    mov ebp, 0x18                       ; type 1 (a bridge): BAR0-BAR1
.next:
    call size_one
    add esi, 4
    cmp esi, ebp
    jb .next
    mov esi, 0x30                       ; the expansion ROM BAR (type 0)
    test byte [header_type], 0x7F
    jz .rom
    mov esi, 0x38
.rom:
    call size_one
    NL
    popad
    ret

; size_one: EDI = function, ESI = register: print the all-ones read-back.
size_one:
    push ebx
    mov ebx, 0xFFFFFFFF
    call try_write
    pop ebx
    ret

; try_write: EDI = function, ESI = register, EBX = value: write it, print what reads back,
; put the old value back.
try_write:
    pushad
    mov eax, edi
    or eax, esi
    call cfg_read
    mov ecx, eax                        ; the value to restore
    mov eax, edi
    or eax, esi
    call cfg_write
    call cfg_read
    call sp_hex8
    mov ebx, ecx
    mov eax, edi
    or eax, esi
    call cfg_write
    popad
    ret

; caps: EDI = function address; its capability list (ID, next) if status bit 4 is set.
caps:
    pushad
    mov eax, edi
    or eax, 0x04
    call cfg_read
    test eax, 0x00100000
    jz .done
    PUTS "  caps"
    mov eax, edi
    or eax, 0x34
    call cfg_read
    movzx esi, al
    mov ebp, 16                         ; a loop in a list must not hang the guest
.walk:
    and esi, 0xFC
    jz .end
    mov eax, edi
    or eax, esi
    call cfg_read
    movzx ecx, al
    HEX "at", esi, 2
    HEX "id", ecx, 2
    movzx esi, ah
    dec ebp
    jnz .walk
.end:
    NL
.done:
    popad
    ret

; narrow: EDI = function address; byte and word reads of the first dword at every offset.
narrow:
    pushad
    PUTS "  narrow"
    mov eax, edi
    call cfg_addr
    mov dx, CONFIG_DATA
.b:
    in al, dx
    movzx eax, al
    mov ecx, 2
    PUTS " "
    call puthex
    inc dx
    cmp dx, CONFIG_DATA + 4
    jb .b
    mov dx, CONFIG_DATA
    in ax, dx
    movzx eax, ax
    mov ecx, 4
    PUTS " "
    call puthex
    mov dx, CONFIG_DATA + 2
    in ax, dx
    movzx eax, ax
    PUTS " "
    call puthex
    NL
    popad
    ret

; read_only: EDI = function; the IDs, class and header written with zeros, the command
; register written, each read back and restored.
read_only:
    pushad
    PUTS "  writes"
    xor ebx, ebx
    mov esi, 0x00
.next:
    call try_write
    add esi, 4
    cmp esi, 0x10
    jb .next
    mov esi, 0x3C                       ; the interrupt line takes any byte; the pin is fixed
    mov ebx, 0xFFFFFFFF
    call try_write
    NL
    popad
    ret

; function: EDI = function address, EAX = its dword 0 (vendor/device).
function:
    pushad
    PUTS "00:"
    mov eax, edi
    shr eax, 11
    and eax, 31
    mov ecx, 2
    call hexd
    PUTS "."
    mov eax, edi
    shr eax, 8
    and eax, 7
    mov ecx, 1
    call hexd
    NL
    mov eax, edi
    or eax, 0x0C
    call cfg_read
    shr eax, 16
    mov [header_type], eax
    call dump_space
    call narrow
    call caps
    call size_bars
    call read_only
    popad
    ret

main:
    LINE "pci mechanism 1"
    mov dx, CONFIG_ADDRESS
    mov eax, ENABLE | 0x00FC            ; the enable bit and a register offset, read back
    out dx, eax
    in eax, dx
    HEX "address", eax, 8
    mov dx, CONFIG_ADDRESS
    mov al, 0x12                        ; a byte write to 0xCF8 leaves the address alone
    out dx, al
    in eax, dx
    HEX "after_byte", eax, 8
    mov dx, CONFIG_ADDRESS + 2
    in ax, dx
    movzx eax, ax
    HEX "word2", eax, 4
    mov dx, CONFIG_ADDRESS
    xor eax, eax
    out dx, eax
    mov dx, CONFIG_DATA
    in eax, dx                          ; the enable bit clear: no configuration cycle
    HEX "disabled", eax, 8
    mov dx, 0xCFA                       ; mechanism 2's forward register
    in al, dx
    movzx eax, al
    HEX "cfa", eax, 2
    NL
    ; bus 0: every device, every function of a multi-function one
    xor edi, edi
.dev:
    mov eax, edi
    call cfg_read
    cmp ax, 0xFFFF
    je .skip
    call function
    test edi, 0x700
    jnz .skip                           ; function 1-7: already known multi-function
    mov eax, edi
    or eax, 0x0C
    call cfg_read
    test eax, 0x00800000
    jnz .skip
    add edi, 0x800                      ; single-function: the next device
    jmp .more
.skip:
    add edi, 0x100
.more:
    cmp edi, 0x10000
    jb .dev
    ; a bus that does not exist (bus 1), and function 0 of an empty device (00:1f.0)
    mov eax, 0x00010000
    call cfg_read
    HEX "bus1", eax, 8
    mov eax, 0x0000F800
    call cfg_read
    HEX "dev31", eax, 8
    NL
    call fw_cfg
    call pm
    call shadow
    EXIT 0

; shadow_map: for each 16 KiB segment of 0xC0000-0xFFFFF, 1 when a write there sticks (RAM),
; 0 when it is dropped (ROM, or RAM the i440FX's PAM makes read-only); each byte put back.
shadow_map:
    pushad
    PUTS " "
    mov esi, 0xC0000
.seg:
    mov al, [esi]
    mov ah, al
    not al
    mov [esi], al
    mov bl, [esi]
    mov [esi], ah
    cmp bl, ah
    setne al
    add al, '0'
    call putc
    add esi, 0x4000
    cmp esi, 0x100000
    jb .seg
    popad
    ret

; pam_byte: PAM register CL (0x59-0x5F) of 00:00.0 set to AL.
pam_byte:
    pushad
    mov ebx, eax
    mov eax, 0x80000000
    mov al, cl
    and al, 0xFC
    mov dx, CONFIG_ADDRESS
    out dx, eax
    mov dx, CONFIG_DATA
    and cl, 3
    add dl, cl
    mov al, bl
    out dx, al
    popad
    ret

shadow:
    PUTS "shadow"
    call shadow_map
    mov cl, 0x5A                        ; PAM1: C0000-C7FFF read and write RAM
    mov al, 0x33
    call pam_byte
    mov cl, 0x59                        ; PAM0: F0000-FFFFF too
    mov al, 0x30
    call pam_byte
    call shadow_map
    mov cl, 0x5A                        ; as SeaBIOS left them
    mov al, 0x11
    call pam_byte
    mov cl, 0x59
    mov al, 0x10
    call pam_byte
    call shadow_map
    NL
    ret

; INW "name", port
%macro INW 2
    mov dx, %2
    in ax, dx
    movzx eax, ax
    HEX %1, eax, 4
%endmacro

; pm: the PIIX4's power-management I/O block at PMBA 0x600 (PM1 status, enable, control, the
; PM timer) and the APM control port 0xB2 that turns ACPI mode (SCI_EN) on and off.
pm:
    LINE "pm"
    mov dx, 0x600
    in ax, dx
    and eax, 0xFFFE                     ; TMR_STS: whether 2.3 s of guest time have passed
    HEX "pm1_sts", eax, 4
    INW "pm1_en", 0x602
    INW "pm1_cnt", 0x604
    mov dx, 0xB2
    in al, dx
    movzx eax, al
    HEX "apm_cnt", eax, 2
    inc dx
    in al, dx
    movzx eax, al
    HEX "apm_sts", eax, 2
    NL
    mov dx, 0x608
    in eax, dx
    mov ebx, eax
    mov ecx, 100
.spin:
    in eax, dx
    loop .spin
    sub eax, ebx
    and eax, 0xFFFFFF
    setnz al                            ; the 24-bit timer moved (by how much depends on time)
    movzx eax, al
    DEC " timer_moves", eax
    shr ebx, 24
    HEX "timer_top", ebx, 2
    mov dx, 0x600
    mov ax, 0xFFFF                      ; status bits clear by writing ones
    out dx, ax
    INW "sts_after", 0x600
    mov dx, 0x602
    mov ax, 0xFFFF
    out dx, ax
    INW "en_after", 0x602
    xor ax, ax
    out dx, ax
    NL
    mov dx, 0xB2
    mov al, 0xF1                        ; ACPI enable
    out dx, al
    INW " acpi_on_cnt", 0x604
    mov dx, 0xB2
    mov al, 0xF0                        ; ACPI disable
    out dx, al
    INW "acpi_off_cnt", 0x604
    mov dx, 0x604
    mov ax, 0x0C00                      ; SLP_TYP 3, SLP_EN clear: kept, nothing sleeps
    out dx, ax
    INW "cnt_typ", 0x604
    xor ax, ax
    out dx, ax
    mov dx, 0xB3
    mov al, 0x5A
    out dx, al
    in al, dx
    movzx eax, al
    HEX "apm_sts_rw", eax, 2
    NL
    ret

; fwsel: AX = fw_cfg key selected.
fwsel:
    push edx
    mov dx, FW_CFG_CTL
    out dx, ax
    pop edx
    ret

; fwbytes: ECX bytes from the data port printed as hex pairs.
fwbytes:
    pushad
    mov dx, FW_CFG_DATA
.b:
    in al, dx
    movzx eax, al
    push ecx
    mov ecx, 2
    call hexd
    pop ecx
    loop .b
    popad
    ret

; fwbe32: EAX = the next 4 data bytes as a big-endian number.
fwbe32:
    push ecx
    push edx
    mov dx, FW_CFG_DATA
    xor eax, eax
    mov ecx, 4
.b:
    shl eax, 8
    in al, dx
    loop .b
    pop edx
    pop ecx
    ret

; fwle: EAX = the next ECX (<= 4) data bytes as a little-endian number.
fwle:
    push ebx
    push ecx
    push edx
    push esi
    mov dx, FW_CFG_DATA
    xor ebx, ebx
    xor esi, esi                        ; the next byte's shift
.b:
    in al, dx
    movzx eax, al
    push ecx
    mov ecx, esi
    shl eax, cl
    pop ecx
    or ebx, eax
    add esi, 8
    loop .b
    mov eax, ebx
    pop esi
    pop edx
    pop ecx
    pop ebx
    ret

fw_cfg:
    LINE "fw_cfg"
    mov dx, FW_CFG_CTL
    in ax, dx
    movzx eax, ax
    HEX "ctl_read", eax, 4
    xor eax, eax                        ; FW_CFG_SIGNATURE
    call fwsel
    PUTS " signature="
    mov ecx, 4
    mov dx, FW_CFG_DATA
.sig:
    in al, dx
    call putc
    loop .sig
    in al, dx                           ; past the end: 0
    movzx eax, al
    HEX "past_end", eax, 2
    mov ax, 1                           ; FW_CFG_ID
    call fwsel
    mov ecx, 4
    call fwle
    HEX "id", eax, 8
    mov dx, 0x514                       ; the DMA address register's high half
    in eax, dx
    HEX "dma_hi", eax, 8
    NL
    mov ax, 2                           ; FW_CFG_UUID
    call fwsel
    PUTS " uuid="
    mov ecx, 16
    call fwbytes
    mov ax, 3                           ; FW_CFG_RAM_SIZE (64-bit LE)
    call fwsel
    mov ecx, 4
    call fwle
    HEX "ram_lo", eax, 8
    mov ecx, 4
    call fwle
    HEX "ram_hi", eax, 8
    NL
    mov ax, 4                           ; FW_CFG_NOGRAPHIC
    call fwsel
    mov ecx, 2
    call fwle
    HEX "nographic", eax, 4
    mov ax, 5                           ; FW_CFG_NB_CPUS
    call fwsel
    mov ecx, 2
    call fwle
    HEX "nb_cpus", eax, 4
    mov ax, 0x0F                        ; FW_CFG_MAX_CPUS
    call fwsel
    mov ecx, 2
    call fwle
    HEX "max_cpus", eax, 4
    mov ax, 0x0E                        ; FW_CFG_BOOT_MENU
    call fwsel
    mov ecx, 2
    call fwle
    HEX "boot_menu", eax, 4
    mov ax, 0x0D                        ; FW_CFG_NUMA
    call fwsel
    mov ecx, 8
    PUTS " numa="
    call fwbytes
    mov ax, 0x0C                        ; FW_CFG_BOOT_DEVICE
    call fwsel
    mov ecx, 2
    call fwle
    HEX "boot_device", eax, 4
    mov ax, 0x1234                      ; a key nothing answers
    call fwsel
    mov ecx, 4
    call fwle
    HEX "absent", eax, 8
    NL
    mov esi, probe_names
.probe:
    cmp byte [esi], 0
    je .probes_done
    call find_file
    PUTS "  "
    call puts
    test eax, eax
    jnz .found
    LINE " absent"
    jmp .next_probe
.found:
    mov ebx, eax
    shr ebx, 16                         ; the size (below 64 KiB here)
    DEC "size", ebx
    PUTS " data="
    call fwsel                          ; AX = its key
    mov ecx, ebx
    cmp ecx, 32
    jbe .some
    mov ecx, 32
.some:
    jecxz .none
    call fwbytes
.none:
    NL
.next_probe:
    lodsb                               ; past this name's NUL
    test al, al
    jnz .next_probe
    jmp .probe
.probes_done:
    call fw_dma
    ret

; find_file: ESI = a NUL-terminated name; EAX = (size << 16) | key from the file directory,
; or 0 when it is absent.
find_file:
    push ebx
    push ecx
    push edx
    push edi
    push ebp
    mov ax, 0x19                        ; FW_CFG_FILE_DIR
    call fwsel
    call fwbe32
    mov [nfiles], eax
.entry:
    xor eax, eax
    cmp dword [nfiles], 0
    je .out
    dec dword [nfiles]
    call fwbe32                         ; size
    mov ebx, eax
    mov ecx, 2
    call fwle                           ; select, big-endian
    xchg al, ah
    mov ebp, eax
    mov ecx, 2
    call fwle                           ; reserved
    mov edi, name_buf
    mov ecx, 56
    mov dx, FW_CFG_DATA
.name:
    in al, dx
    stosb
    loop .name
    push esi
    mov edi, name_buf
.cmp:
    mov al, [esi]
    cmp al, [edi]
    jne .differ
    inc esi
    inc edi
    test al, al
    jnz .cmp
    pop esi
    mov eax, ebx
    shl eax, 16
    or eax, ebp
    jmp .out
.differ:
    pop esi
    jmp .entry
.out:
    pop ebp
    pop edi
    pop edx
    pop ecx
    pop ebx
    ret

; fw_dma: the DMA interface: the signature read into memory through an FWCfgDmaAccess
; (select key 0 and read 4 bytes), a skip, and a write (no entry takes one: the error bit).
fw_dma:
    LINE " dma"
    mov dword [dma_buf], 0
    mov eax, (0 << 16) | 0x08 | 0x02    ; select key 0, read
    mov ebx, 4
    call dma_go
    PUTS "  read "
    mov esi, dma_buf
    mov ecx, 4
.sig:
    lodsb
    call putc
    loop .sig
    mov eax, 0x02                       ; read on: the next 8 bytes of the same key (zeros)
    mov ebx, 8
    call dma_go
    mov eax, [dma_buf]
    HEX "past", eax, 8
    mov eax, (1 << 16) | 0x08 | 0x04    ; select the ID, skip 2 bytes, then read 2
    mov ebx, 2
    call dma_go
    mov dword [dma_buf], 0xAAAAAAAA
    mov eax, 0x02
    mov ebx, 2
    call dma_go
    mov eax, [dma_buf]
    HEX "skip_read", eax, 8
    mov eax, (5 << 16) | 0x08 | 0x10    ; write to NB_CPUS: refused
    mov ebx, 2
    call dma_go
    mov eax, 0x00                       ; no operation bit: nothing, control 0
    mov ebx, 2
    call dma_go
    NL
    ret

; dma_go: EAX = control, EBX = length into dma_buf; prints the control word QEMU leaves.
dma_go:
    pushad
    bswap eax
    mov [dma_access], eax
    bswap ebx
    mov [dma_access + 4], ebx
    mov dword [dma_access + 8], 0
    mov eax, dma_buf
    bswap eax
    mov [dma_access + 12], eax
    mov dx, 0x514
    xor eax, eax
    out dx, eax                         ; the address's high half
    mov dx, 0x518
    mov eax, dma_access
    bswap eax
    out dx, eax                         ; the low half starts the transfer
    mov eax, [dma_access]
    bswap eax
    HEX "ctl", eax, 8
    popad
    ret

section .rodata
probe_names:
    db "bios-geometry", 0
    db "etc/boot-fail-wait", 0
    db "etc/e820", 0
    db "etc/system-states", 0
    db "etc/no-such-file", 0
    db 0

section .bss
alignb 16
dma_access: resd 4
dma_buf:    resd 4
