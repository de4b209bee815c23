"""INT 14h: the serial port services (COM1-4 through their UARTs), as SeaBIOS 1.16's
src/serial.c performs them.

DX selects the port by its BDA address (0x400 + 2 * DX); a missing port (address 0, DX >= 4)
only sets CF. AH=00h programs the divisor (AL bits 7-5: 110 to 9600 baud, 0x600 >> n; 0 is
110 baud, divisor 0x417) and LCR = AL & 0x1F, and returns AH = LSR, AL = MSR. AH=01h sends AL
once LSR shows THRE and TEMT (AH = the LSR it saw), AH=02h returns a received byte (AH = LSR);
both give up after the port's timeout in BIOS ticks (BDA 0x47C + DX) with AH = LSR | 0x80.
AH=03h returns LSR and MSR. All clear CF when the port exists; others are not implemented
(SeaBIOS sets CF and keeps AH).
"""

from __future__ import annotations

from bt.bios import bda, waits
from bt.bios.api import BiosCall, Outcome, ServiceResult, Unsupported

DATA, DLL, DLH, LCR, LSR, MSR = 0, 0, 1, 3, 5, 6
LSR_DR, LSR_READY, TIMEOUT = 0x01, 0x60, 0x80


class Serial:
    """The INT 14h service."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        cpu, ports = call.cpu, call.ports
        ah = cpu.reg("ah")
        if ah > 3:
            return Unsupported(0x14, ah, f"INT 14h AH={ah:02X}h", code=None)
        dx = cpu.reg("dx")
        addr = bda.read16(call.mem, bda.PORT_COM + 2 * dx) if dx < 4 else 0
        if not addr:
            cpu.set_flag("cf", True)
            return Outcome.DONE
        if ah == 0x00:
            al = cpu.reg("al")
            ports.write(addr + LCR, 1, ports.read(addr + LCR, 1) | 0x80)
            divisor = 0x417 if not al & 0xE0 else 0x600 >> ((al & 0xE0) >> 5)
            ports.write(addr + DLL, 1, divisor & 0xFF)
            ports.write(addr + DLH, 1, divisor >> 8)
            ports.write(addr + LCR, 1, al & 0x1F)
            cpu.set_reg("ah", ports.read(addr + LSR, 1))
            cpu.set_reg("al", ports.read(addr + MSR, 1))
        elif ah in (0x01, 0x02):
            lsr = ports.read(addr + LSR, 1)
            ready = lsr & LSR_READY == LSR_READY if ah == 0x01 else lsr & LSR_DR
            if ready:
                waits.finish(call.mem)
                if ah == 0x01:
                    ports.write(addr + DATA, 1, cpu.reg("al"))
                else:
                    cpu.set_reg("al", ports.read(addr + DATA, 1))
                cpu.set_reg("ah", lsr)
            else:
                ticks = bda.read8(call.mem, bda.COM_TIMEOUT + dx)
                length = ticks * waits.NS_PER_TICK
                if not waits.wait_until(call.mem, 0x14, ah, call.now_ns, length):
                    return Outcome.WAIT
                cpu.set_reg("ah", lsr | TIMEOUT)
        else:
            cpu.set_reg("ah", ports.read(addr + LSR, 1))
            cpu.set_reg("al", ports.read(addr + MSR, 1))
        cpu.set_flag("cf", False)
        return Outcome.DONE
