"""The built-in PC BIOS: ROM entry points whose services run in the monitor."""
