; BSF of 0: ZF set, CF/OF/SF/AF/PF and the destination undefined (Intel SDM); the case is
; compared with those masked and cut before the ADD that reads the destination.
l0: xor ecx, ecx
l1: bsf eax, ecx
l2: mov edx, 3
l3: add eax, 1
l4: nop
