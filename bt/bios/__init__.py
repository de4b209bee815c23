"""The built-in PC BIOS: ROM entry points whose services run in the monitor.

rom.asm/rom.bin/rom.py: the 64 KiB ROM at F000 (UD2-marked entries, stubs, tables, the IVT
template) and its parsed table; post.py: the state SeaBIOS leaves (BDA, EBDA, devices,
BootState); services.py: vector -> Service and marker address -> service (the wiring point);
video, keyboard (+ keymap), serial, system (+ memmap), clock, boot, printer: the services;
waits.py: the deadline of a waiting call; stats.py: --stats counts. Rebuild the ROM with
`sh bt/bios/build.sh` (nasm). INT 13h is bt/bios/int13.py's.
"""
