; Found by tools/fuzz.py: a dword read at 0xFFFFFFFF made Unicorn ask for the page above 4 GiB,
; where the translation cache lives; it must wrap to linear 0 as on QEMU (tests/test_isolation.py
; checks the monitor's side).
l0: mov dword ptr [0], 0x44332211
l1: mov esi, 0xFFFFFFFF
l2: lodsd
l3: mov ecx, eax
l4: mov dword ptr [0xFFFFFFFE], 0xAABBCCDD
l5: mov edx, dword ptr [0]
l6: nop
