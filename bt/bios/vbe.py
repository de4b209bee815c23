"""INT 10h AH=4Fh: the VESA BIOS Extensions of a VGA with text modes only, as SeaVGABIOS answers.

The reference is SeaBIOS 1.16's vgasrc/vbe.c. The controller information (AX=4F00h) is VBE
3.0's block with its mode list built in the block's reserved field, as handle_104f00 builds it;
this VGA has no VBE modes (no graphics), so the list is empty, and the OEM string lives after
it in the same field (the caller's buffer: the ROM has no room for strings). The current mode
(4F03h) is the BIOS mode in the data area; a mode set (4F02h) accepts the text modes by their
BIOS numbers. Mode information (4F01h) fails for every mode: VBE defines it for VBE modes
only, and GRUB, for one, never asks it for mode 3. The protected-mode interface (4F0Ah)
answers AX=0100h, as vbe_104f0a does; so do the other functions (vbe_104fXX), which are
reported as unimplemented (SeaVGABIOS implements 04h-08h, 10h and 15h).
"""

from __future__ import annotations

from collections.abc import Callable

from bt.bios import bda
from bt.bios.api import BiosCall, Outcome, ServiceResult, Unsupported

OK = 0x004F
FAILED = 0x014F  # AL = 4Fh: supported; AH = 01h: the call failed
NOT_SUPPORTED = 0x0100  # what SeaVGABIOS returns for what it does not implement
INFO_SIZE = 256  # VBE 1.x's block; VBE 2.0+ callers pass 512 ('VBE2'): the tail is theirs
RESERVED = 0x22  # the reserved field, where the mode list goes
VERSION = 0x0300
TOTAL_MEMORY = 256 * 1024  # a VGA's 256 KiB (SeaVGABIOS's default VBE_total_memory)
OEM_STRING = b"bt BIOS VBE\0"
PM_INTERFACE = 0x0A
NO_CLEAR = 0x8000  # 4F02h BX bit 15: keep the display memory
VBE_FLAGS = 0xC800  # BX bits 15, 14, 11: no-clear, linear frame buffer, CRTC values

SetMode = Callable[[BiosCall], ServiceResult]


def vbe(call: BiosCall, set_mode: SetMode) -> ServiceResult:
    """The AH=4Fh function in AL; `set_mode(call)` is AH=00h's mode set of the mode in AL."""
    cpu = call.cpu
    al = cpu.reg("al")
    if al == 0x00:
        _controller_info(call)
    elif al == 0x01:
        cpu.set_reg("ax", FAILED)
    elif al == 0x02:
        bx = cpu.reg("bx")
        mode = bx & ~VBE_FLAGS & 0xFFFF
        if mode >= 0x80:  # a VBE mode number: this VGA has none
            cpu.set_reg("ax", FAILED)
            return Outcome.DONE
        cpu.set_reg("al", mode | (0x80 if bx & NO_CLEAR else 0))
        result = set_mode(call)
        cpu.set_reg("ax", OK if result is Outcome.DONE else FAILED)
    elif al == 0x03:
        cpu.set_reg("bx", bda.read8(call.mem, bda.VIDEO_MODE))
        cpu.set_reg("ax", OK)
    elif al == PM_INTERFACE:
        cpu.set_reg("ax", NOT_SUPPORTED)  # SeaVGABIOS has none either: not a gap to report
    else:
        cpu.set_reg("ax", NOT_SUPPORTED)
        return Unsupported(0x10, 0x4F, f"INT 10h AX=4F{al:02X}h (VBE)", cf=False, code=None)
    return Outcome.DONE


def _controller_info(call: BiosCall) -> None:
    """AX=4F00h: the information block at ES:DI."""
    cpu = call.cpu
    es, di = cpu.seg("es"), cpu.reg("di")
    modes = di + RESERVED
    oem = modes + 2  # after the list's 0xFFFF terminator
    block = bytearray(INFO_SIZE)
    block[0:4] = b"VESA"
    block[4:6] = VERSION.to_bytes(2, "little")
    block[6:10] = _far(es, oem)
    block[10:14] = bytes(4)  # capabilities: a fixed 6-bit DAC
    block[14:18] = _far(es, modes)
    block[18:20] = (TOTAL_MEMORY >> 16).to_bytes(2, "little")
    block[RESERVED : RESERVED + 2] = b"\xff\xff"
    block[RESERVED + 2 : RESERVED + 2 + len(OEM_STRING)] = OEM_STRING
    call.mem.write_phys(cpu.linear("es", di), bytes(block))
    cpu.set_reg("ax", OK)


def _far(seg: int, off: int) -> bytes:
    """A real-mode far pointer as VBE stores it: offset, then segment."""
    return (off & 0xFFFF).to_bytes(2, "little") + seg.to_bytes(2, "little")
