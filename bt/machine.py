"""Machine: the builder that wires one VM (engine, memory, vCPU, buses, devices, cache)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from unicorn import x86_const as R

from bt.bootimage import BootImage
from bt.bus import Bus
from bt.callouts.context import CalloutContext
from bt.devices.cmos import Cmos
from bt.devices.debugcon import DebugCon
from bt.devices.exit_port import ExitPort
from bt.devices.i8042 import I8042
from bt.devices.pic8259 import PicPair
from bt.devices.pit8254 import Pit8254
from bt.devices.uart16550 import Uart16550
from bt.devices.vga import VgaText, boot_screen_cells
from bt.engine import TC_LINEAR, TC_SIZE, Engine
from bt.errors import OptionError
from bt.irq import IrqSource
from bt.memory import GuestMemory
from bt.runloop import RunLoop, RunResult
from bt.timebase import Clock, HostClock, VirtualClock
from bt.vcpu import ARITH_FLAGS, FIXED_ONE, IF, REAL_IOPL, SYSTEM_FLAGS, SegmentCache, Vcpu
from cache.cache import TranslationCache
from cache.codebuf import CodeBuffer
from cache.persist import PersistentStore
from translator.assembler import Assembler
from translator.rewriter import Rewriter
from translator.scanner import Scanner

COM1 = 0x3F8
DEBUGCON = 0xE9
EXIT_PORT = 0xF4


@dataclass(frozen=True, slots=True)
class MachineConfig:
    """What the user chose for one VM."""

    mem_size: int
    chaining: bool = True
    inline: bool = True  # inline emulation of sensitive instructions (translator/inline.py)
    count_insns: bool = False
    trace_path: str | None = None
    trace_level: str = "block"
    guest_name: str = ""
    cache_dir: str | None = None
    realtime: bool = False  # device time follows the host clock instead of the guest's work
    keys: bytes = b""  # text typed on the keyboard (--keys FILE), as the host sent it


class _ExitWatch:
    """isa-debug-exit on the bus, telling the run loop when the guest asks to stop."""

    def __init__(self, port: ExitPort, on_exit: Callable[[int], None]) -> None:
        self._port = port
        self._on_exit = on_exit

    def read(self, offset: int, size: int) -> int:
        return self._port.read(offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        self._port.write(offset, size, value)
        if self._port.exit_status is not None:
            self._on_exit(self._port.exit_status)


class Machine:
    """One virtual PC running one guest image."""

    def __init__(
        self,
        config: MachineConfig,
        image: BootImage,
        serial_out: Callable[[bytes], None],
        debug_out: Callable[[bytes], None] | None = None,
    ) -> None:
        self.config = config
        self.image = image
        self.engine = Engine(config.mem_size)
        self.memory = GuestMemory(self.engine, config.mem_size)
        for chunk in image.chunks:
            self.memory.load(chunk.paddr, chunk.data)
        self.vcpu = _initial_vcpu(image)
        self.io = Bus()
        self.uart = Uart16550(serial_out)
        self.io.register(COM1, 8, self.uart, "com1")
        self.io.register(DEBUGCON, 1, DebugCon(debug_out or (lambda _b: None)), "debugcon")
        self._add_pc_devices(config.mem_size, config.realtime)
        self.asm = Assembler()
        self.scanner = Scanner()
        self.rewriter = Rewriter(self.asm)
        self.codebuf = CodeBuffer(TC_LINEAR, TC_SIZE - 0x1000)  # the top page holds stubs
        self.cache = TranslationCache(
            self.engine,
            self.codebuf,
            self.rewriter.exit_slot,
            chaining=config.chaining,
            on_code_page=self.engine.protect_page,
        )
        self.ctx = CalloutContext(self.engine, self.vcpu, self.memory, self.io)
        self.runloop = RunLoop(
            self.engine, self.memory, self.vcpu, self.ctx, self.cache, self.scanner,
            self.rewriter, image.entry,
        )
        self.runloop.bake = config.inline
        self.runloop.clock = self.clock if isinstance(self.clock, VirtualClock) else None
        self.runloop.realtime = config.realtime
        self.runloop.irq = IrqSource(
            self.clock, self.pics, (self.pit, self.cmos), (self._uart_line,),
        )
        if config.keys:
            self.kbd.type_text(config.keys.decode("latin-1"))
        exit_port = ExitPort()
        self.io.register(
            EXIT_PORT, 4,
            _ExitWatch(exit_port, lambda st: self.runloop.request_shutdown(
                st, f"guest wrote to the exit port (status {st})")),
            "isa-debug-exit",
        )
        self._start_cpu(image)
        self.store: PersistentStore | None = None
        if config.cache_dir is not None:
            import sqlite3  # here only: a run without --cache-dir starts faster without it

            try:
                self.store = PersistentStore(config.cache_dir)
            except (OSError, sqlite3.Error) as exc:
                raise OptionError(f"--cache-dir: cannot use {config.cache_dir}: {exc}") from None
            self.runloop.store = self.store
        if config.count_insns:
            self.runloop.count_instructions()
        self.tracer = None
        if config.trace_path is not None:
            from bt.tracefile import TraceWriter
            from bt.tracer import Tracer

            writer = TraceWriter(config.trace_path, config.trace_level, "bt", config.guest_name)
            self.tracer = Tracer(self.engine, self.cache, self.vcpu, writer, config.trace_level)
            self.ctx.io = self.tracer.watch_ports(self.io)
            self.runloop.on_deliver = self.tracer.interrupt

    def attach_console(
        self, poll: Callable[[], None], wait: Callable[[float], bool],
    ) -> None:
        """Host input and display: polled at safe points, waited on while the guest halts."""
        assert self.runloop.irq is not None
        self.runloop.irq.add_poller(poll)
        self.runloop.wait_for_input = wait

    def _uart_line(self) -> None:
        # COM1's interrupt output drives IRQ 4 (a level the PIC sees as an edge when it rises).
        self.pics.set_irq(4, 1 if self.uart.irq_pending() else 0)

    def _add_pc_devices(self, mem_size: int, realtime: bool) -> None:
        """The PC platform a Multiboot kernel finds, in the state QEMU + SeaBIOS leave it.

        The clock is virtual and deterministic unless `realtime`. Until translated code counts
        instructions itself, it advances by a fixed step each time the monitor runs (callouts
        and exits), and to the next timer event when the guest halts or spins without
        entering the monitor, so a guest sees time move the same way on every run.
        """
        self.clock: Clock = HostClock() if realtime else VirtualClock()
        self.pics = PicPair()
        io = self.io
        io.register(0x20, 2, self.pics.master, "pic-master")
        io.register(0xA0, 2, self.pics.slave, "pic-slave")
        io.register(0x4D0, 2, self.pics.elcr, "elcr")
        self.pit = Pit8254(self.clock, irq=lambda level: self.pics.set_irq(0, level))
        io.register(0x40, 4, self.pit, "pit")
        io.register(0x61, 1, self.pit.speaker, "port61")
        self.cmos = Cmos(self.clock, mem_size, irq=lambda level: self.pics.set_irq(8, level))
        io.register(0x70, 2, self.cmos, "cmos")
        self.kbd = I8042(
            irq_kbd=lambda level: self.pics.set_irq(1, level),
            irq_aux=lambda level: self.pics.set_irq(12, level),
            on_reset=lambda: self.runloop.request_shutdown(0, "guest reset the machine "
                                                            "through the keyboard controller"),
        )
        io.register(0x60, 1, self.kbd.data, "kbd-data")
        io.register(0x64, 1, self.kbd.command, "kbd-command")
        self.vga = VgaText(self.memory)
        io.register(0x3B0, 0x30, self.vga, "vga")
        # The text screen as QEMU's firmware leaves it at the kernel's entry.
        self.memory.load(0xB8000, boot_screen_cells())

    def _start_cpu(self, image: BootImage) -> None:
        eng = self.engine
        eng.enter_user_mode(TC_LINEAR, image.gpr[4])
        for name in ("es", "ss", "ds", "fs", "gs"):
            seg = self.vcpu.segs[name]
            eng.load_shadow(name, seg.base, seg.limit, seg.flags, null=(seg.selector & ~3) == 0)
        regs = [R.UC_X86_REG_EAX, R.UC_X86_REG_ECX, R.UC_X86_REG_EDX, R.UC_X86_REG_EBX,
                R.UC_X86_REG_ESP, R.UC_X86_REG_EBP, R.UC_X86_REG_ESI, R.UC_X86_REG_EDI]
        eng.uc.reg_write_batch(list(zip(regs, image.gpr, strict=True)))
        # The real EFLAGS: the arithmetic bits, the guest's IF, and IOPL 3 (bt/vcpu.py).
        eng.uc.reg_write(R.UC_X86_REG_EFLAGS,
                         (image.eflags & (ARITH_FLAGS | IF)) | REAL_IOPL | FIXED_ONE)

    def run(self, max_insns: int | None = None, timeout: float | None = None) -> RunResult:
        """Run the guest until it halts, stops, crashes or reaches a limit."""
        try:
            return self.runloop.run(max_insns=max_insns, timeout=timeout)
        finally:
            if self.tracer is not None:
                self.tracer.close()
            if self.store is not None:
                self.store.close()
                self.store = None


def _initial_vcpu(image: BootImage) -> Vcpu:
    names = ("es", "cs", "ss", "ds", "fs", "gs")
    segs = {
        n: SegmentCache(s.selector, s.base, s.limit, s.flags)
        for n, s in zip(names, image.segments, strict=True)
    }
    return Vcpu(
        segs=segs,
        eflags_sys=image.eflags & SYSTEM_FLAGS,
        cr0=image.cr0,
        gdtr=image.gdtr,
        idtr=image.idtr,
        ldtr=SegmentCache(image.ldtr.selector, image.ldtr.base, image.ldtr.limit,
                          image.ldtr.flags),
        tr=SegmentCache(image.tr.selector, image.tr.base, image.tr.limit, image.tr.flags),
    )
