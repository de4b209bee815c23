; INTO with OF set traps with vector 4 after the instruction; had it not, UD2 would give #UD.
l0: mov eax, 0x7fffffff
l1: add eax, 1
l2: into
l3: ud2
l4: nop
