; Found by tools/fuzz.py with the exact fault comparison: the fuzzer took the handler's exit
; for a normal end. INT3 traps: the handler gets vector 3 and the EIP after the instruction.
l0: mov eax, 0x1234
l1: int3
l2: nop
