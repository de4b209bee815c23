; #DE at the DIV (quotient too large), registers as before it; flags as the last ALU op left
; them (SUB defines all six).
l0: mov edx, 5
l1: mov ecx, 2
l2: sub eax, 7
l3: div ecx
l4: nop
