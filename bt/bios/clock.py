"""INT 08h (the timer IRQ) and INT 1Ah (time of day), as SeaBIOS 1.16's src/clock.c does them.

- INT 08h: the tick count at 0x46C goes up by one; at 0x1800B0 (a day of 18.2 Hz ticks) it
  wraps to 0 and the midnight flag at 0x470 is incremented; the diskette motor countdown at
  0x440 goes down, and on reaching 0 the motors are switched off (port 0x3F2 &= 0xCF). The ROM
  entry then chains INT 1Ch and sends the EOI.
- INT 70h (IRQ 8): registers B and C are read, which acknowledges the RTC's interrupt so the
  next one can come (SeaBIOS's handle_70); the ROM entry sends the EOI to both PICs. Not done:
  SeaBIOS's call of INT 4Ah on an alarm, and its INT 15h 83h/86h countdown (86h waits in
  virtual time instead).
- INT 1Ah AH=00h CX:DX = ticks, AL = the midnight flag, which is cleared; 01h sets the ticks
  and clears the flag (AH = 0); 02h/04h read the RTC through ports 0x70/0x71 (BCD as the CMOS
  holds it; CH = the century, CMOS 0x32, AL = CH, AH = 0, DL = the DST bit); 03h/05h write
  it (register B rewritten as SeaBIOS does, AL = its new value); 05h writes the century to
  CMOS 0x32 (SeaBIOS keeps it in a variable read from there at POST and leaves the CMOS byte
  as it was: the one difference a guest can see, by reading CMOS 0x32 after 05h); 06h sets the
  alarm (CF set if it is already on), 07h clears it. While the RTC shows update in progress a
  read WAITs (SeaBIOS polls register A until UIP clears). Others: not implemented (CF set).
  Each CMOS access sets the NMI-disable bit of port 0x70, as SeaBIOS's rtc_read does.
"""

from __future__ import annotations

from bt.bios import bda
from bt.bios.api import BiosCall, Outcome, Ports, ServiceResult, Unsupported
from bt.devices.cmos_layout import (
    A_UIP,
    B_24H,
    B_AIE,
    B_PIE,
    B_SET,
    CENTURY,
    DAY_OF_MONTH,
    HOURS,
    HOURS_ALARM,
    MINUTES,
    MINUTES_ALARM,
    MONTH,
    REG_A,
    REG_B,
    REG_C,
    REG_D,
    SECONDS,
    SECONDS_ALARM,
    YEAR,
)

TICKS_PER_DAY = 0x1800B0  # 86400 s * 1193182 Hz / 65536
PORT_FD_DOR = 0x3F2
CMOS_INDEX, CMOS_DATA = 0x70, 0x71
NMI_DISABLE = 0x80
B_DSE = 0x01


def rtc_read(ports: Ports, index: int) -> int:
    """A CMOS byte, as SeaBIOS's rtc_read reads it."""
    ports.write(CMOS_INDEX, 1, index | NMI_DISABLE)
    return ports.read(CMOS_DATA, 1)


def rtc_write(ports: Ports, index: int, value: int) -> None:
    """Store a CMOS byte (SeaBIOS's rtc_write)."""
    ports.write(CMOS_INDEX, 1, index | NMI_DISABLE)
    ports.write(CMOS_DATA, 1, value)


def rtc_setup(ports: Ports) -> None:
    """Divider and format as SeaBIOS programs them: A = 0x26, B = 24 h (DSE kept), C/D read."""
    rtc_write(ports, REG_A, 0x26)
    rtc_write(ports, REG_B, (rtc_read(ports, REG_B) & B_DSE) | B_24H)
    rtc_read(ports, REG_C)
    rtc_read(ports, REG_D)


def _updating(ports: Ports) -> bool:
    return bool(rtc_read(ports, REG_A) & A_UIP)


class TimerIrq:
    """The INT 08h service."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        mem = call.mem
        counter = bda.read32(mem, bda.TIMER_COUNTER) + 1
        if counter >= TICKS_PER_DAY:
            counter = 0
            bda.write8(mem, bda.TIMER_ROLLOVER, bda.read8(mem, bda.TIMER_ROLLOVER) + 1)
        bda.write32(mem, bda.TIMER_COUNTER, counter)
        motor = bda.read8(mem, bda.FLOPPY_MOTOR_COUNTER)
        if motor:
            motor -= 1
            bda.write8(mem, bda.FLOPPY_MOTOR_COUNTER, motor)
            if motor == 0:
                call.ports.write(PORT_FD_DOR, 1, call.ports.read(PORT_FD_DOR, 1) & 0xCF)
        return Outcome.DONE


class RtcIrq:
    """The INT 70h service."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        rtc_read(call.ports, REG_B)
        rtc_read(call.ports, REG_C)
        return Outcome.DONE


class TimeOfDay:
    """The INT 1Ah service."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        cpu, mem, ports = call.cpu, call.mem, call.ports
        ah = cpu.reg("ah")
        if ah == 0x00:
            ticks = bda.read32(mem, bda.TIMER_COUNTER)
            cpu.set_reg("cx", ticks >> 16)
            cpu.set_reg("dx", ticks & 0xFFFF)
            cpu.set_reg("al", bda.read8(mem, bda.TIMER_ROLLOVER))
            bda.write8(mem, bda.TIMER_ROLLOVER, 0)
        elif ah == 0x01:
            bda.write32(mem, bda.TIMER_COUNTER, (cpu.reg("cx") << 16) | cpu.reg("dx"))
            bda.write8(mem, bda.TIMER_ROLLOVER, 0)
            cpu.set_reg("ah", 0)
        elif ah in (0x02, 0x04):
            if _updating(ports):
                return Outcome.WAIT
            if ah == 0x02:
                cpu.set_reg("dh", rtc_read(ports, SECONDS))
                cpu.set_reg("cl", rtc_read(ports, MINUTES))
                cpu.set_reg("ch", rtc_read(ports, HOURS))
                cpu.set_reg("dl", rtc_read(ports, REG_B) & B_DSE)
            else:
                cpu.set_reg("cl", rtc_read(ports, YEAR))
                cpu.set_reg("dh", rtc_read(ports, MONTH))
                cpu.set_reg("dl", rtc_read(ports, DAY_OF_MONTH))
                cpu.set_reg("ch", rtc_read(ports, CENTURY))
            cpu.set_reg("ah", 0)
            cpu.set_reg("al", cpu.reg("ch"))
        elif ah == 0x03:
            if _updating(ports):
                rtc_setup(ports)  # and go on as if no update were in progress
            rtc_write(ports, SECONDS, cpu.reg("dh"))
            rtc_write(ports, MINUTES, cpu.reg("cl"))
            rtc_write(ports, HOURS, cpu.reg("ch"))
            value = (rtc_read(ports, REG_B) & (B_PIE | B_AIE)) | B_24H | (cpu.reg("dl") & B_DSE)
            rtc_write(ports, REG_B, value)
            cpu.set_reg("ah", 0)
            cpu.set_reg("al", value)
        elif ah == 0x05:
            if _updating(ports):
                rtc_setup(ports)
                cpu.set_flag("cf", True)
                return Outcome.DONE
            rtc_write(ports, YEAR, cpu.reg("cl"))
            rtc_write(ports, MONTH, cpu.reg("dh"))
            rtc_write(ports, DAY_OF_MONTH, cpu.reg("dl"))
            rtc_write(ports, CENTURY, cpu.reg("ch"))
            value = rtc_read(ports, REG_B) & ~B_SET
            rtc_write(ports, REG_B, value)
            cpu.set_reg("ah", 0)
            cpu.set_reg("al", value)
        elif ah == 0x06:
            value = rtc_read(ports, REG_B)
            cpu.set_reg("ax", 0)
            if value & B_AIE:
                cpu.set_flag("cf", True)  # the alarm is already set
                return Outcome.DONE
            if _updating(ports):
                rtc_setup(ports)
            rtc_write(ports, SECONDS_ALARM, cpu.reg("dh"))
            rtc_write(ports, MINUTES_ALARM, cpu.reg("cl"))
            rtc_write(ports, HOURS_ALARM, cpu.reg("ch"))
            rtc_write(ports, REG_B, (value & ~B_SET) | B_AIE)
        elif ah == 0x07:
            value = rtc_read(ports, REG_B)
            rtc_write(ports, REG_B, value & ~(B_SET | B_AIE))
            cpu.set_reg("ah", 0)
            cpu.set_reg("al", value)
        else:
            return Unsupported(0x1A, ah, f"INT 1Ah AH={ah:02X}h", code=None)
        cpu.set_flag("cf", False)
        return Outcome.DONE
