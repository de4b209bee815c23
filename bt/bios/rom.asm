; rom.asm: the built-in BIOS's 64 KiB ROM at F000:0000-F000:FFFF (bt/bios/rom.py reads it).
;
; The services run in the monitor: each service entry starts with the marker UD2 (0F 0B), which
; the monitor's run-time recognises at the entries the ROM's own table lists; run without the
; monitor knowing it, it is a #UD, never a silent no-op. After the marker comes the real code
; that finishes the call (IRET, or the EOI and the INT 1Ch chain of the timer interrupt).
; Entries sit at the addresses IBM-compatible BIOSes (SeaBIOS's VAR16FIXED ones among them)
; give them; tables a guest reads sit at theirs (F000:E6F5 configuration, F000:EFC7 diskette
; parameters, F000:FFF0 reset vector, F000:FFF5 date, F000:FFFE model byte).
;
; At F000:0000 the ROM carries what the monitor needs to know about it:
;   "$BTROM", version byte, entry count N, then N records (vector byte, marker offset word),
;   the same for the continuation markers (markers inside an entry's code, past its start),
;   then the offsets of the reset entry, the IRET stub, the master/slave EOI stubs and the
;   INT 15h C0h configuration table, then
;   the IVT template: 256 far pointers (offset, segment) that POST copies to 0000:0000.
; bt/bios/build.sh assembles this file into rom.bin and sets the checksum byte at F000:FFFF.

bits 16
org 0

%define ROMSEG 0xF000
%define MARKER ud2

%macro place 1
    times (%1) - ($ - $$) db 0xFF
%endmacro

; -- the ROM's own table ---------------------------------------------------------------------------
header:
    db "$BTROM", 1
    db (service_end - service_table) / 3
service_table:
    db 0x08
    dw int08
    db 0x09
    dw int09
    db 0x10
    dw int10
    db 0x11
    dw int11
    db 0x12
    dw int12
    db 0x13
    dw int13
    db 0x14
    dw int14
    db 0x15
    dw int15
    db 0x16
    dw int16
    db 0x17
    dw int17
    db 0x18
    dw int18
    db 0x19
    dw int19
    db 0x1A
    dw int1a
    db 0x40
    dw int40
    db 0x70
    dw int70
service_end:
    db (continuation_end - continuation_table) / 3
continuation_table:             ; markers inside an entry's code: (vector, offset)
    db 0x09
    dw int09.key
continuation_end:
    dw reset_entry
    dw iret_stub
    dw eoi_master
    dw eoi_slave
    dw config_table
    dw pnp_pc_prot, pnp_pc_real, pnp_isapc_prot, pnp_isapc_real

; The IVT as POST leaves it: SeaBIOS's layout (measured under QEMU 7.2 at the boot sector's
; entry): every vector at the IRET stub but the services, the hardware IRQs (EOI stubs), the
; diskette parameter table at 1Eh, and the vectors SeaBIOS leaves zero (60h-67h, user
; vectors; 79h, see SeaBIOS's ivt_init). 1Fh and 43h (VGA fonts) are zero: this ROM has no font.
%macro vec 1
    dw %1, ROMSEG
%endmacro
%macro null_vec 0
    dw 0, 0
%endmacro

ivt_template:
%assign v 0
%rep 256
  %if v == 0x08
    vec int08
  %elif v == 0x09
    vec int09
  %elif v >= 0x0A && v <= 0x0F
    vec eoi_master
  %elif v == 0x10
    vec int10
  %elif v == 0x11
    vec int11
  %elif v == 0x12
    vec int12
  %elif v == 0x13
    vec int13
  %elif v == 0x14
    vec int14
  %elif v == 0x15
    vec int15
  %elif v == 0x16
    vec int16
  %elif v == 0x17
    vec int17
  %elif v == 0x18
    vec int18
  %elif v == 0x19
    vec int19
  %elif v == 0x1A
    vec int1a
  %elif v == 0x1E
    vec diskette_param_table
  %elif v == 0x1F || v == 0x43
    null_vec
  %elif v == 0x40
    vec int40
  %elif v >= 0x60 && v <= 0x67
    null_vec
  %elif v == 0x70
    vec int70
  %elif v >= 0x71 && v <= 0x77
    vec eoi_slave
  %elif v == 0x79
    null_vec
  %else
    vec iret_stub
  %endif
  %assign v v + 1
%endrep

; -- default stubs and entries without a fixed address ---------------------------------------------
eoi_master:                     ; a hardware IRQ of the master PIC nobody handles
    push ax
    mov al, 0x20
    out 0x20, al
    pop ax
    iret

eoi_slave:                      ; of the slave PIC: EOI to both (SeaBIOS's handle_hwpic2)
    push ax
    mov al, 0x20
    out 0xA0, al
    out 0x20, al
    pop ax
    iret

int18:                          ; boot failure: the monitor ends the run
    MARKER
    iret

int17:                          ; printer: the monitor answers
    MARKER
    iret

int70:                          ; IRQ 8: the monitor acknowledges the RTC, then EOI to both
    MARKER
    push ax
    mov al, 0x20
    out 0xA0, al
    out 0x20, al
    pop ax
    iret

; -- the PnP BIOS (bt/bios/pnpbios.py writes the "$PnP" header pointing here) ----------------------
; Answered in ROM code as SeaBIOS's handle_pnp does (function 60h stores version 0101h at the
; far pointer of its next two arguments and returns 0, every other one returns 82h, "function
; not supported"), so that it works from 16-bit protected mode with the caller's selectors as
; from real mode: the monitor's markers are recognised in real mode only. The caller far-calls
; with the function and its arguments as words on its stack; AX returns the result.
pnp_prot_body:                  ; SeaBIOS's entry_pnp_prot: the arguments through ESP as it is
    push esp
    jmp pnp_body
pnp_real_body:                  ; entry_pnp_real: through SP (ESP's upper half cleared, then
    push esp                    ; restored, as SeaBIOS's entry does)
    movzx esp, sp
pnp_body:
    push ebp
    mov ebp, esp
    mov ax, [ebp + 12]          ; above EBP, the saved ESP and the far return address
    cmp ax, 0x60
    jne .unsupported
    push es
    push bx
    les bx, [ebp + 14]
    mov word [es:bx], 0x0101
    pop bx
    pop es
    xor ax, ax
    jmp .out
.unsupported:
    mov ax, 0x82
.out:
    pop ebp
    pop esp
    retf

; SeaBIOS's entry addresses (its header on pc points at D10F/D113, on isapc at D24F/D253;
; Linux prints the protected-mode one): four bytes apart, so each entry is a near jump.
place 0xD10F
pnp_pc_prot:
    jmp near pnp_prot_body
place 0xD113
pnp_pc_real:
    jmp near pnp_real_body
; -- 32-bit entries: far-called from 32-bit protected mode with the caller's own segments and paging
; (bt/bios/pcibios32.py). The marker runs the service in the monitor, RETF returns to the caller.
; At SeaBIOS 1.16.2's addresses, which differ between its bios-256k.bin (QEMU's pc) and bios.bin
; (isapc): the BIOS32 service directory's entry and the PCI BIOS's, one pair for each machine.
bits 32
place 0xD1CA
pcibios32_pc:
    MARKER
    retf
bits 16
place 0xD24F
pnp_isapc_prot:
    jmp near pnp_prot_body
place 0xD253
pnp_isapc_real:
    jmp near pnp_real_body
bits 32
place 0xD26C
bios32_pc:
    MARKER
    retf
place 0xD30A
pcibios32_isapc:
    MARKER
    retf
place 0xD3AC
bios32_isapc:
    MARKER
    retf
bits 16

; -- entries at their conventional addresses -------------------------------------------------------
place 0xE05B
reset_entry:                    ; POST: the reset vector jumps here; the monitor reboots
    MARKER
    hlt

place 0xE3FE
int13:                          ; disk services (bt/bios/int13.py)
    MARKER
    iret

place 0xE6F2
int19:                          ; bootstrap loader: the monitor reboots from disk
    MARKER
    iret

place 0xE6F5
config_table:                   ; INT 15h C0h (SeaBIOS's BIOS_CONFIG_TABLE, measured)
    dw 8                        ; bytes that follow
    db 0xFC                     ; model: AT
    db 0x00                     ; submodel
    db 0x01                     ; BIOS revision
    db 0x74                     ; feature 1: 2nd PIC, RTC, INT 15h 4Fh, EBDA
    db 0x40                     ; feature 2: INT 16h 09h
    db 0, 0, 0                  ; features 3-5

place 0xE739
int14:                          ; serial ports
    MARKER
    iret

place 0xE82E
int16:                          ; keyboard
    MARKER
    iret

place 0xE987
int09:                          ; IRQ 1: the monitor reads port 60h and fills the buffer
    MARKER
    push ax
    push ds
    xor ax, ax
    mov ds, ax
    cmp word [4 * 0x15], int15  ; a guest hook on INT 15h sees the key first (AH=4Fh)
    jne .hooked
    cmp word [4 * 0x15 + 2], ROMSEG
    je .eoi                     ; not hooked: the service above did all
.hooked:
    in al, 0x64
    and al, 0x21
    cmp al, 0x01                ; a keyboard byte waiting (OBF, not the mouse's)
    jne .eoi
    in al, 0x60
    mov ah, 0x4F
    stc
    int 0x15
    jnc .eoi                    ; the hook took the key
.key:
    MARKER                      ; the monitor processes the key in AL
.eoi:
    mov al, 0x20
    out 0x20, al
    pop ds
    pop ax
    iret

place 0xEC59
int40:                          ; diskette services (INT 13h moved here when disks exist)
    MARKER
    iret

place 0xEFC7
diskette_param_table:           ; INT 1Eh (SeaBIOS's diskette_param_table, measured)
    db 0xAF                     ; step rate 12 ms, head unload 240 ms
    db 0x02                     ; head load 4 ms, DMA
    db 0x25                     ; motor off delay: 37 ticks
    db 0x02                     ; 512-byte sectors
    db 18                       ; sectors per track
    db 0x1B                     ; gap length
    db 0xFF                     ; data length
    db 0x6C                     ; format gap length
    db 0xF6                     ; format fill byte
    db 0x0F                     ; head settle 15 ms
    db 0x08                     ; motor start 1 s

place 0xF065
int10:                          ; video
    MARKER
    iret

place 0xF841
int12:                          ; memory size
    MARKER
    iret

place 0xF84D
int11:                          ; equipment list
    MARKER
    iret

place 0xF859
int15:                          ; system services
    MARKER
    iret

place 0xFE6E
int1a:                          ; time of day
    MARKER
    iret

place 0xFEA5
int08:                          ; IRQ 0: the monitor counts the tick, then INT 1Ch and EOI
    MARKER
    int 0x1C
    push ax
    mov al, 0x20
    out 0x20, al
    pop ax
    iret

place 0xFF53
iret_stub:                      ; every vector nobody handles
    iret

place 0xFFF0
reset_vector:
    jmp ROMSEG:reset_entry
place 0xFFF5
    db "06/23/99"               ; SeaBIOS's date string
    db 0
place 0xFFFE
    db 0xFC                     ; model byte: AT
    db 0                        ; checksum (build.sh)
