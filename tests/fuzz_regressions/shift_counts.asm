; After IMUL (SF/ZF/AF/PF undefined), a shift by CL=0 writes no flag: they stay undefined and
; masked; a shift by 1 defines OF, by 2 leaves OF and AF undefined.
l0: imul eax, ecx
l1: mov ecx, 0
l2: shl edx, cl
l3: mov ecx, 1
l4: sar esi, cl
l5: mov ecx, 2
l6: shr ebp, cl
l7: nop
