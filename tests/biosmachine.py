"""A small PC for the BIOS tests: a bytearray RAM with the ROM at F000, the real devices on a
real port bus, and a register file that behaves as BiosCpu promises (tests of bt/bios/)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bt.bios.api import BiosCall, ServiceResult
from bt.bios.post import Chs, DiskCounts, post
from bt.bios.rom import ROM_BASE, ROM_SIZE, load
from bt.bus import Bus
from bt.devices.cmos import Cmos
from bt.devices.i8042 import I8042
from bt.devices.irqline import IrqLine
from bt.devices.pic8259 import PicPair
from bt.devices.pit8254 import Pit8254
from bt.devices.port92 import Port92
from bt.devices.uart16550 import Uart16550
from bt.devices.vga import VgaText
from bt.timebase import VirtualClock

RAM_SIZE = 128 << 20
MEMORY = 0x110000  # what the tests touch: the first MiB and the HMA

_GPR32 = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp", "esp")
_FLAGS = {"cf": 0x0001, "zf": 0x0040, "if": 0x0200}


class Memory:
    """Guest-physical memory: RAM, and the ROM, which reads as it is and ignores writes."""

    def __init__(self) -> None:
        self.ram = bytearray(MEMORY)
        self.ram[ROM_BASE : ROM_BASE + ROM_SIZE] = load().image

    def read_phys(self, phys: int, n: int) -> bytes:
        return bytes(self.ram[phys : phys + n])

    def write_phys(self, phys: int, data: bytes) -> None:
        for i, byte in enumerate(data):
            at = phys + i
            if not ROM_BASE <= at < ROM_BASE + ROM_SIZE:
                self.ram[at] = byte

    def read(self, addr: int, size: int) -> bytes:
        """The VGA device's view (GuestRead)."""
        return self.read_phys(addr, size)

    def word(self, phys: int) -> int:
        return int.from_bytes(self.ram[phys : phys + 2], "little")


@dataclass
class Cpu:
    """The caller's registers in real mode, with the FLAGS image its INT pushed."""

    regs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_GPR32, 0))
    segs: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("es", "cs", "ss", "ds", "fs", "gs"), 0)
    )
    flags: int = 0x0202

    @staticmethod
    def _parts(name: str) -> tuple[str, int, int]:
        if name in _GPR32:
            return name, 0, 0xFFFFFFFF
        if len(name) == 2 and name[1] in "lh" and name[0] in "abcd":
            return f"e{name[0]}x", 8 if name[1] == "h" else 0, 0xFF
        full = f"e{name}"
        if full in _GPR32:
            return full, 0, 0xFFFF
        raise KeyError(name)

    def reg(self, name: str) -> int:
        full, shift, mask = self._parts(name)
        return (self.regs[full] >> shift) & mask

    def set_reg(self, name: str, value: int) -> None:
        full, shift, mask = self._parts(name)
        old = self.regs[full]
        self.regs[full] = (old & ~(mask << shift)) | ((value & mask) << shift)

    def seg(self, name: str) -> int:
        return self.segs[name]

    def set_seg(self, name: str, selector: int) -> None:
        self.segs[name] = selector & 0xFFFF

    def linear(self, seg: str, offset: int) -> int:
        return (self.segs[seg] << 4) + (offset & 0xFFFF)

    def flag(self, name: str) -> bool:
        return bool(self.flags & _FLAGS[name])

    def set_flag(self, name: str, value: bool) -> None:
        bit = _FLAGS[name]
        self.flags = (self.flags | bit) if value else (self.flags & ~bit)


class Machine:
    """The PC a BIOS service runs on, after POST."""

    def __init__(
        self,
        boot_drive: int = 0,
        floppies: int = 1,
        hard_disks: int = 0,
        geometries: tuple[tuple[Chs, Chs], ...] = (),
        mem: Memory | None = None,
    ) -> None:
        self.clock = VirtualClock()
        self.mem = mem if mem is not None else Memory()
        self.ports = Bus()
        self.pics = PicPair(boot_state=False)
        self.ports.register(0x20, 2, self.pics.master, "pic-master")
        self.ports.register(0xA0, 2, self.pics.slave, "pic-slave")
        self.ports.register(0x4D0, 2, self.pics.elcr, "elcr")
        self.pit = Pit8254(self.clock, irq=IrqLine(self.pics, 0), boot_state=False)
        self.ports.register(0x40, 4, self.pit, "pit")
        self.cmos = Cmos(self.clock, RAM_SIZE, irq=IrqLine(self.pics, 8))
        self.ports.register(0x70, 2, self.cmos, "cmos")
        self.kbd = I8042(irq_kbd=IrqLine(self.pics, 1))
        self.ports.register(0x60, 1, self.kbd.data, "kbd-data")
        self.ports.register(0x64, 1, self.kbd.command, "kbd-command")
        self.serial_out = bytearray()
        self.uart = Uart16550(self.serial_out.extend)
        self.ports.register(0x3F8, 8, self.uart, "com1")
        self.vga = VgaText(self.mem)
        self.ports.register(0x3B0, 0x30, self.vga, "vga")
        self.a20: list[int] = []
        self.port92 = Port92(on_a20=self.a20.append)
        self.ports.register(0x92, 1, self.port92, "port92")
        self.boot = post(
            self.mem, self.ports, RAM_SIZE, boot_drive, DiskCounts(floppies, hard_disks, geometries)
        )
        self.cpu = Cpu()

    def call(self, service: object, vector: int, **regs: int) -> ServiceResult:
        """Set `regs` (names as BiosCpu's), call `service` for `vector`, return its result."""
        for name, value in regs.items():
            if name in self.cpu.segs:
                self.cpu.set_seg(name, value)
            else:
                self.cpu.set_reg(name, value)
        call = BiosCall(vector, self.cpu, self.mem, self.ports, self.clock.now_ns())
        assert callable(service)
        result: ServiceResult = service(call)
        return result

    def bda8(self, addr: int) -> int:
        return self.mem.ram[addr]

    def bda16(self, addr: int) -> int:
        return self.mem.word(addr)
