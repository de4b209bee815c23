"""INT 10h AH=10h: the attribute controller's palette and the DAC, as SeaVGABIOS performs them
(SeaBIOS 1.16 vgasrc/vgabios.c handle_1010xx over vgasrc/stdvga.c's port sequences).

The attribute controller is reached as stdvga_attr_read/write reach it: a read of 0x3DA resets
the index/data flip-flop, the index (with its palette-address-source bit as it was) goes to
0x3C0, the data to 0x3C0 or from 0x3C1, and the old index is written back. The DAC through
0x3C8/0x3C7 and 0x3C9, three bytes (red, green, blue) per entry. The DAC starts as
bt/devices/vga.py leaves it (zero: the palette SeaVGABIOS loads at a mode set is not modelled),
so reads return what the guest wrote. AL=1Bh (grey-scale summing) and unknown subfunctions
return Unsupported (SeaVGABIOS ignores them).
"""

from __future__ import annotations

from bt.bios.api import BiosCall, Outcome, Ports, ServiceResult, Unsupported

ACTL_RESET, ACTL_ADDRESS, ACTL_READ = 0x3DA, 0x3C0, 0x3C1
DAC_READ_INDEX, DAC_WRITE_INDEX, DAC_DATA, PEL_MASK = 0x3C7, 0x3C8, 0x3C9, 0x3C6
PALETTE_REGS, OVERSCAN, MODE_CONTROL, COLOR_SELECT = 0x10, 0x11, 0x10, 0x14


def attr_write(ports: Ports, index: int, value: int) -> None:
    """stdvga_attr_write."""
    ports.read(ACTL_RESET, 1)
    orig = ports.read(ACTL_ADDRESS, 1)
    ports.write(ACTL_ADDRESS, 1, index)
    ports.write(ACTL_ADDRESS, 1, value)
    ports.write(ACTL_ADDRESS, 1, orig)


def attr_read(ports: Ports, index: int) -> int:
    """stdvga_attr_read."""
    ports.read(ACTL_RESET, 1)
    orig = ports.read(ACTL_ADDRESS, 1)
    ports.write(ACTL_ADDRESS, 1, index)
    value = ports.read(ACTL_READ, 1)
    ports.read(ACTL_RESET, 1)
    ports.write(ACTL_ADDRESS, 1, orig)
    return value


def _dac_write(ports: Ports, start: int, rgb: bytes) -> None:
    ports.write(DAC_WRITE_INDEX, 1, start)
    for byte in rgb:
        ports.write(DAC_DATA, 1, byte)


def _dac_read(ports: Ports, start: int, count: int) -> bytes:
    ports.write(DAC_READ_INDEX, 1, start)
    return bytes(ports.read(DAC_DATA, 1) for _ in range(3 * count))


def palette(call: BiosCall) -> ServiceResult:
    """AH=10h, by AL."""
    cpu, ports, mem = call.cpu, call.ports, call.mem
    al, bl, bh = cpu.reg("al"), cpu.reg("bl"), cpu.reg("bh")
    buffer = cpu.linear("es", cpu.reg("dx"))
    if al == 0x00:
        if bl <= 0x14:
            attr_write(ports, bl, bh)
    elif al == 0x01:
        attr_write(ports, OVERSCAN, bh)
    elif al == 0x02:
        data = mem.read_phys(buffer, PALETTE_REGS + 1)
        for index in range(PALETTE_REGS):
            attr_write(ports, index, data[index])
        attr_write(ports, OVERSCAN, data[PALETTE_REGS])
    elif al == 0x03:
        attr_write(ports, MODE_CONTROL, (attr_read(ports, MODE_CONTROL) & 0xF7) | (bl & 1) << 3)
    elif al == 0x07:
        if bl <= 0x14:
            cpu.set_reg("bh", attr_read(ports, bl))
    elif al == 0x08:
        cpu.set_reg("bh", attr_read(ports, OVERSCAN))
    elif al == 0x09:
        regs = bytes(attr_read(ports, i) for i in range(PALETTE_REGS))
        mem.write_phys(buffer, regs + bytes((attr_read(ports, OVERSCAN),)))
    elif al == 0x10:
        _dac_write(ports, cpu.reg("bx"), bytes((cpu.reg("dh"), cpu.reg("ch"), cpu.reg("cl"))))
    elif al == 0x12:
        _dac_write(ports, cpu.reg("bx"), mem.read_phys(buffer, 3 * cpu.reg("cx")))
    elif al == 0x15:
        red, green, blue = _dac_read(ports, cpu.reg("bx"), 1)
        cpu.set_reg("dh", red)
        cpu.set_reg("ch", green)
        cpu.set_reg("cl", blue)
    elif al == 0x17:
        mem.write_phys(buffer, _dac_read(ports, cpu.reg("bx"), cpu.reg("cx")))
    elif al == 0x18:
        ports.write(PEL_MASK, 1, bl)
    elif al == 0x19:
        cpu.set_reg("bl", ports.read(PEL_MASK, 1))
    elif al == 0x1A:
        mode = attr_read(ports, MODE_CONTROL) >> 7
        page = attr_read(ports, COLOR_SELECT) & 0x0F
        if not mode & 1:
            page >>= 2
        cpu.set_reg("bl", mode)
        cpu.set_reg("bh", page)
    else:
        return Unsupported(0x10, 0x10, f"INT 10h AX=10{al:02X}h", cf=False, code=None)
    return Outcome.DONE
