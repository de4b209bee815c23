; disk3.asm: the disk guest's third stage, stored at sector 4000 of disk_hd.img: disk.asm loads
; it to 0000:9000 with INT 13h AH=42h and calls it (it runs with DS = 0, as the second stage).
bits 16
org 0x9000
%include "macros16.inc"

stage3:
    PL "stage 3: loaded from the hard disk (lba 4000) with int13 ah=42, running at 0000:9000"
    ret

%include "io16.inc"
