"""The ROM's own x86 code, run on Unicorn in 16-bit real mode with a minimal run-time (markers
call their services, INT n goes through the IVT, IN/OUT reach the real devices): the timer's
INT 1Ch chain and EOI, the keyboard intercept of a guest's INT 15h hook, the default stubs."""

from __future__ import annotations

from unicorn import UC_ARCH_X86, UC_HOOK_CODE, UC_HOOK_INSN, UC_HOOK_INTR, UC_MODE_16, Uc
from unicorn import x86_const as x86

from bt.bios.api import BiosCall, Outcome
from bt.bios.rom import ROM_BASE, ROM_SIZE, load
from bt.bios.services import entry_services
from tests.biosmachine import RAM_SIZE, Machine, Memory

RETURN_IP = 0x0700  # where the interrupted "guest" resumes: the run ends there
STACK = 0x7000
_NAMES = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp", "ax", "bx", "cx", "dx",
          "si", "di", "bp", "sp", "al", "ah", "bl", "bh", "cl", "ch", "dl", "dh",
          "es", "cs", "ss", "ds", "fs", "gs", "ip", "eflags")  # fmt: skip
REG = {name: getattr(x86, f"UC_X86_REG_{name.upper()}") for name in _NAMES}
FLAG_BITS = {"cf": 0x0001, "zf": 0x0040, "if": 0x0200}


class UcMemory(Memory):
    """Physical memory in Unicorn's address space (the ROM ignores writes)."""

    def __init__(self, uc: Uc) -> None:
        self.uc = uc

    def read_phys(self, phys: int, n: int) -> bytes:
        return bytes(self.uc.mem_read(phys, n))

    def write_phys(self, phys: int, data: bytes) -> None:
        end = phys + len(data)
        if end <= ROM_BASE or phys >= ROM_BASE + ROM_SIZE:
            self.uc.mem_write(phys, data)
        else:  # drop the part that falls on the ROM
            for i, byte in enumerate(data):
                if not ROM_BASE <= phys + i < ROM_BASE + ROM_SIZE:
                    self.uc.mem_write(phys + i, bytes((byte,)))

    def word(self, phys: int) -> int:
        return int.from_bytes(self.read_phys(phys, 2), "little")


class UcCpu:
    """BiosCpu over Unicorn's registers; the FLAGS image is the INT frame's at SS:SP+4."""

    def __init__(self, uc: Uc) -> None:
        self.uc = uc

    def reg(self, name: str) -> int:
        return int(self.uc.reg_read(REG[name]))

    def set_reg(self, name: str, value: int) -> None:
        self.uc.reg_write(REG[name], value)

    def seg(self, name: str) -> int:
        return self.reg(name)

    def set_seg(self, name: str, selector: int) -> None:
        self.set_reg(name, selector)

    def linear(self, seg: str, offset: int) -> int:
        return (self.seg(seg) << 4) + (offset & 0xFFFF)

    def _frame_flags(self) -> int:
        return self.linear("ss", self.reg("sp") + 4)

    def flag(self, name: str) -> bool:
        flags = int.from_bytes(self.uc.mem_read(self._frame_flags(), 2), "little")
        return bool(flags & FLAG_BITS[name])

    def set_flag(self, name: str, value: bool) -> None:
        at = self._frame_flags()
        flags = int.from_bytes(self.uc.mem_read(at, 2), "little")
        flags = flags | FLAG_BITS[name] if value else flags & ~FLAG_BITS[name]
        self.uc.mem_write(at, flags.to_bytes(2, "little"))


class Pc:
    """Unicorn, the devices after POST and the services at their markers."""

    def __init__(self) -> None:
        self.uc = Uc(UC_ARCH_X86, UC_MODE_16)
        self.uc.mem_map(0, 0x200000)  # 2 MiB: the first MiB, the HMA and some
        self.uc.mem_write(ROM_BASE, load().image)
        self.m = Machine(mem=UcMemory(self.uc))
        self.cpu = UcCpu(self.uc)
        self.services = entry_services(RAM_SIZE)
        self.calls: list[int] = []
        self.waiting: int | None = None  # the marker whose service returned WAIT
        self.uc.hook_add(UC_HOOK_CODE, self._marker, begin=ROM_BASE, end=ROM_BASE + ROM_SIZE)
        self.uc.hook_add(UC_HOOK_INTR, self._int)
        self.uc.hook_add(UC_HOOK_INSN, self._in, None, 1, 0, x86.UC_X86_INS_IN)
        self.uc.hook_add(UC_HOOK_INSN, self._out, None, 1, 0, x86.UC_X86_INS_OUT)
        self.uc.mem_write(RETURN_IP, b"\xf4")

    def _marker(self, uc: Uc, address: int, size: int, _: object) -> None:
        if address not in self.services:
            return
        vector, service = self.services[address]
        self.calls.append(vector)
        call = BiosCall(vector, self.cpu, self.m.mem, self.m.ports, self.m.clock.now_ns())
        result = service(call)
        if result is Outcome.WAIT:  # halt here until an interrupt, then run the marker again
            self.waiting = address
            uc.emu_stop()
            return
        assert result is Outcome.DONE
        uc.reg_write(x86.UC_X86_REG_IP, (address & 0xFFFF) + 2)

    def push_frame(self, cs: int, ip: int, flags: int) -> None:
        sp = (self.cpu.reg("sp") - 6) & 0xFFFF
        frame = ip.to_bytes(2, "little") + cs.to_bytes(2, "little") + flags.to_bytes(2, "little")
        self.uc.mem_write(self.cpu.linear("ss", sp), frame)
        self.cpu.set_reg("sp", sp)

    def _int(self, uc: Uc, vector: int, _: object) -> None:
        # INT n in real mode: push FLAGS, CS, IP (past the instruction), clear IF/TF, IVT.
        flags = self.cpu.reg("eflags")
        self.push_frame(self.cpu.reg("cs"), self.cpu.reg("ip"), flags & 0xFFFF)
        uc.reg_write(x86.UC_X86_REG_EFLAGS, flags & ~0x0300)
        self._jump_vector(vector)

    def _jump_vector(self, vector: int) -> None:
        target = self.m.mem.read_phys(4 * vector, 4)
        self.cpu.set_reg("cs", int.from_bytes(target[2:], "little"))
        self.cpu.set_reg("ip", int.from_bytes(target[:2], "little"))

    def _in(self, uc: Uc, port: int, size: int, _: object) -> int:
        return self.m.ports.read(port, size)

    def _out(self, uc: Uc, port: int, size: int, value: int, _: object) -> None:
        self.m.ports.write(port, size, value)

    def irq(self, line: int) -> None:
        """The PIC takes IRQ `line`; the CPU enters its vector and runs to the return."""
        self.m.pics.pulse_irq(line)
        vector = self.m.pics.acknowledge()
        self.cpu.set_reg("ss", 0)
        self.cpu.set_reg("sp", STACK)
        self.push_frame(0, RETURN_IP, 0x0202)
        target = self.m.mem.read_phys(4 * vector, 4)
        start = (int.from_bytes(target[2:], "little") << 4) + int.from_bytes(target[:2], "little")
        self.cpu.set_reg("cs", int.from_bytes(target[2:], "little"))
        self.uc.emu_start(start, RETURN_IP, count=10_000)
        assert self.cpu.reg("ip") == RETURN_IP and self.cpu.reg("sp") == STACK


def test_timer_irq_counts_chains_int_1c_and_sends_the_eoi() -> None:
    pc = Pc()
    pc.uc.mem_write(0x0600, bytes.fromhex("2efe060606cf"))  # inc byte [cs:0x606]; iret
    pc.uc.mem_write(0x0606, b"\x00")
    pc.m.mem.write_phys(4 * 0x1C, bytes.fromhex("00060000"))
    ticks = pc.m.mem.read_phys(0x46C, 4)
    pc.cpu.set_reg("ax", 0x1234)
    pc.irq(0)
    assert pc.calls == [0x08]
    assert (
        int.from_bytes(pc.m.mem.read_phys(0x46C, 4), "little")
        == int.from_bytes(ticks, "little") + 1
    )
    assert pc.m.mem.read_phys(0x0606, 1) == b"\x01"  # the guest's INT 1Ch ran
    assert pc.m.pics.master.isr == 0 and pc.cpu.reg("ax") == 0x1234


def _hook_int15(pc: Pc, takes_key: bool, replace_with: int | None) -> None:
    code = bytearray(bytes.fromhex("80fc4f75"))  # cmp ah, 0x4f; jne .chain
    body = bytearray()
    if replace_with is not None:
        body += bytes((0xB0, replace_with))  # mov al, code
    body += b"\xf8" if takes_key else b"\xf9"  # clc / stc
    body += bytes.fromhex("ca0200")  # retf 2: the flags as set
    code += bytes((len(body),)) + body + b"\xcf"  # .chain: iret
    pc.uc.mem_write(0x0800, bytes(code))
    pc.m.mem.write_phys(4 * 0x15, bytes.fromhex("00080000"))


def test_keyboard_irq_lets_a_guest_int15_hook_change_the_key() -> None:
    pc = Pc()
    _hook_int15(pc, takes_key=False, replace_with=0x30)  # 'a' becomes 'b'
    pc.m.kbd.feed_scancodes(b"\x1e")
    pc.cpu.set_reg("ds", 0x1234)
    pc.irq(1)
    assert pc.calls == [0x09, 0x09]  # the entry, then the continuation marker
    assert pc.m.mem.read_phys(0x41E, 2) == bytes.fromhex("6230")
    assert pc.m.pics.master.isr == 0 and pc.cpu.reg("ds") == 0x1234


def test_keyboard_irq_hook_that_takes_the_key() -> None:
    pc = Pc()
    _hook_int15(pc, takes_key=True, replace_with=None)
    pc.m.kbd.feed_scancodes(b"\x1e")
    pc.irq(1)
    assert pc.calls == [0x09]
    assert pc.m.mem.word(0x41A) == pc.m.mem.word(0x41C)  # nothing stored
    assert not pc.m.kbd.command.read(0, 1) & 1  # but the byte was read


def test_keyboard_irq_without_a_hook_is_one_service_call() -> None:
    pc = Pc()
    pc.m.kbd.feed_scancodes(b"\x1e")
    pc.irq(1)
    assert pc.calls == [0x09] and pc.m.mem.read_phys(0x41E, 2) == bytes.fromhex("611e")


def test_default_stubs_acknowledge_their_pic() -> None:
    pc = Pc()
    pc.m.pics.slave.imr = 0
    pc.irq(9)  # INT 71h: the slave's default stub
    assert pc.m.pics.slave.isr == 0 and pc.m.pics.master.isr == 0 and pc.calls == []
    pc.m.pics.master.imr = 0
    pc.irq(3)  # INT 0Bh: the master's
    assert pc.m.pics.master.isr == 0


def test_int16_read_waits_for_the_keyboard_irq() -> None:
    pc = Pc()
    pc.uc.mem_write(0x0900, bytes.fromhex("b400cd16f4"))  # mov ah, 0; int 16h; hlt
    pc.cpu.set_reg("ss", 0)
    pc.cpu.set_reg("sp", STACK)
    pc.uc.emu_start(0x0900, 0x0904, count=1000)
    marker = load().entries[0x16]
    assert pc.waiting == ROM_BASE + marker and pc.calls == [0x16]
    # The run-time halts with interrupts on; a key arrives and IRQ 1 is taken at the marker.
    pc.m.kbd.feed_scancodes(b"\x1e")
    pc.m.pics.pulse_irq(1)
    assert pc.m.pics.acknowledge() == 0x09
    pc.cpu.set_reg("cs", 0xF000)
    pc.push_frame(0xF000, marker, 0x0202)
    target = pc.m.mem.read_phys(4 * 0x09, 4)
    start = ROM_BASE + int.from_bytes(target[:2], "little")
    pc.uc.emu_start(start, 0x0904, count=1000)
    assert pc.calls == [0x16, 0x09, 0x16]  # INT 09h's IRET went back to the marker
    assert pc.cpu.reg("ax") == 0x1E61 and pc.cpu.reg("sp") == STACK
    assert pc.m.pics.master.isr == 0
