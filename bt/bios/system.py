"""INT 11h (equipment), INT 12h (memory size) and INT 15h (system services), as SeaBIOS 1.16
performs them (src/system.c, src/clock.c handle_1586, src/misc.c).

INT 15h results (each checked against QEMU 7.2 with a probe boot sector):
- AH=24h A20 through port 0x92 bit 1 (SeaBIOS's set_a20): AL=00h off, 01h on, 02h AL = the
  state, 03h BX = 3 (keyboard controller and port 0x92); AH = 0, CF clear; other AL: CF and
  AH = 0x86.
- AH=4Fh (keyboard intercept) CF set, AX kept: the key is processed. AH=90h/91h (device busy,
  interrupt complete) change nothing, CF included.
- AH=86h waits CX:DX microseconds of virtual time (WAIT until then; SeaBIOS counts RTC
  interrupts), then CF clear.
- AH=87h copies CX words between the bases of descriptors 2 and 3 of the table at ES:SI, with
  A20 on for the copy and put back after; AH = 0, CF clear.
- AH=88h, E801h, E820h: bt/bios/memmap.py. E820h with EDX not 'SMAP', ECX < 20 or BX past the
  last entry: CF set, AH = 0x86.
- AH=C0h ES:BX = F000:E6F5 (the ROM's configuration table), AH = 0, CF clear. AH=C1h ES = the
  EBDA segment, CF clear.
"""

from __future__ import annotations

from bt.bios import bda, memmap, waits
from bt.bios.api import BiosCall, Outcome, ServiceResult, Unsupported
from bt.bios.rom import ROM_SEGMENT, load

PORT_A20 = 0x92
A20_BIT = 0x02
SMAP = 0x534D4150
ERR_UNSUPPORTED = 0x86


class Equipment:
    """INT 11h: AX = the equipment word at 0x410."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        call.cpu.set_reg("ax", bda.read16(call.mem, bda.EQUIPMENT))
        return Outcome.DONE


class MemorySize:
    """INT 12h: AX = KiB of conventional memory (0x413)."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        call.cpu.set_reg("ax", bda.read16(call.mem, bda.MEM_SIZE_KIB))
        return Outcome.DONE


def set_a20(call: BiosCall, on: bool) -> bool:
    """Drive A20 through port 0x92; the previous state (SeaBIOS's set_a20)."""
    value = call.ports.read(PORT_A20, 1)
    call.ports.write(PORT_A20, 1, (value & ~A20_BIT) | (A20_BIT if on else 0))
    return bool(value & A20_BIT)


def _invalid(call: BiosCall, code: int = ERR_UNSUPPORTED) -> ServiceResult:
    """A known function refused for its arguments: AH = `code`, CF set."""
    call.cpu.set_reg("ah", code)
    call.cpu.set_flag("cf", True)
    return Outcome.DONE


def _success(call: BiosCall, clear_ah: bool = False) -> ServiceResult:
    if clear_ah:
        call.cpu.set_reg("ah", 0)
    call.cpu.set_flag("cf", False)
    return Outcome.DONE


class System:
    """The INT 15h service of a machine with `ram_size` bytes of RAM (QEMU's `machine`)."""

    def __init__(self, ram_size: int, machine: str = "pc") -> None:
        self._ram_size = ram_size
        self._machine = machine
        self._map = memmap.e820_map(ram_size, machine)

    def __call__(self, call: BiosCall) -> ServiceResult:
        cpu = call.cpu
        ah, al = cpu.reg("ah"), cpu.reg("al")
        if ah == 0x24:
            return self._a20(call, al)
        if ah == 0x4F:
            cpu.set_flag("cf", True)
            return Outcome.DONE
        if ah in (0x90, 0x91):
            return Outcome.DONE  # SeaBIOS's handlers are empty: not even CF changes
        if ah == 0x86:
            micros = (cpu.reg("cx") << 16) | cpu.reg("dx")
            if not waits.wait_until(call.mem, 0x15, 0x86, call.now_ns, micros * 1000):
                return Outcome.WAIT
            return _success(call)
        if ah == 0x87:
            return self._block_move(call)
        if ah == 0x88:
            cpu.set_reg("ax", memmap.extended_kib(self._ram_size, self._machine))
            return _success(call)
        if ah == 0xC0:
            cpu.set_seg("es", ROM_SEGMENT)
            cpu.set_reg("bx", load().config_table)
            return _success(call, clear_ah=True)
        if ah == 0xC1:
            cpu.set_seg("es", bda.EBDA_SEGMENT)
            return _success(call)
        if ah == 0xE8 and al == 0x01:
            low, high = memmap.e801(self._ram_size, self._machine)
            cpu.set_reg("ax", low)
            cpu.set_reg("cx", low)
            cpu.set_reg("bx", high)
            cpu.set_reg("dx", high)
            return _success(call)
        if ah == 0xE8 and al == 0x20:
            return self._e820(call)
        name = f"INT 15h AX={ah:02X}{al:02X}h" if ah in (0x24, 0xE8) else f"INT 15h AH={ah:02X}h"
        return Unsupported(0x15, ah, name)

    def _a20(self, call: BiosCall, al: int) -> ServiceResult:
        cpu = call.cpu
        if al in (0x00, 0x01):
            set_a20(call, al == 0x01)
        elif al == 0x02:
            cpu.set_reg("al", int(bool(call.ports.read(PORT_A20, 1) & A20_BIT)))
        elif al == 0x03:
            cpu.set_reg("bx", 3)
        else:
            return Unsupported(0x15, 0x24, f"INT 15h AX=24{al:02X}h")
        return _success(call, clear_ah=True)

    def _e820(self, call: BiosCall) -> ServiceResult:
        cpu = call.cpu
        index = cpu.reg("bx")
        if (
            cpu.reg("edx") != SMAP
            or index >= len(self._map)
            or cpu.reg("cx") < memmap.E820_ENTRY_SIZE
        ):
            return _invalid(call)
        call.mem.write_phys(cpu.linear("es", cpu.reg("di")), self._map[index].pack())
        cpu.set_reg("ebx", 0 if index == len(self._map) - 1 else index + 1)
        cpu.set_reg("eax", SMAP)
        cpu.set_reg("ecx", memmap.E820_ENTRY_SIZE)
        return _success(call)

    def _block_move(self, call: BiosCall) -> ServiceResult:
        cpu, mem = call.cpu, call.mem
        table = cpu.linear("es", cpu.reg("si"))
        src, dst = (_descriptor_base(mem.read_phys(table + 8 * i, 8)) for i in (2, 3))
        count = 2 * cpu.reg("cx")
        previous = set_a20(call, True)
        mem.write_phys(dst, mem.read_phys(src, count))
        set_a20(call, previous)
        return _success(call, clear_ah=True)


def _descriptor_base(desc: bytes) -> int:
    """The 32-bit base of a segment descriptor."""
    return desc[2] | desc[3] << 8 | desc[4] << 16 | desc[7] << 24
