"""INT 13h status codes (AH) as SeaBIOS's std/disk.h names them, and where the BIOS keeps them."""

SUCCESS = 0x00
EPARAM = 0x01  # DISK_RET_EPARAM: bad command or parameter (also: no such drive)
ECHANGED = 0x06  # DISK_RET_ECHANGED: media changed (AH=16h on a floppy)
EBOUNDARY = 0x09  # DISK_RET_EBOUNDARY: DMA across a 64 KiB boundary, or over 64 KiB at once
EBADTRACK = 0x0C  # DISK_RET_EBADTRACK: the ATA command failed (SeaBIOS hw/ata.c)
ECONTROLLER = 0x20  # DISK_RET_ECONTROLLER: the floppy controller reported an error
EMEDIA = 0xC0  # DISK_RET_EMEDIA: no data rate reads the floppy medium (media sense failed)
ENOTREMOVABLE = 0xB2  # DISK_RET_ENOTREMOVABLE: AH=46h on a fixed disk

# BIOS data area bytes (SeaBIOS std/bda.h struct bios_data_area_s)
BDA_FLOPPY_LAST_STATUS = 0x441
BDA_DISK_LAST_STATUS = 0x474
BDA_DISK_INTERRUPT_FLAG = 0x48E

FIRST_HD = 0x80  # EXTSTART_HD
FIRST_CD = 0xE0  # EXTSTART_CD: no CD drives here, so every such DL is EPARAM
