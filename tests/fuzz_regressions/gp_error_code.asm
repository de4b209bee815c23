; MOV DS with a selector beyond the GDT limit: #GP with the selector (RPL cleared) as error
; code, at the MOV. Any two faults used to compare equal.
l0: mov ecx, 0x2b
l1: mov ds, cx
l2: nop
