"""Machine: the builder that wires one VM (engine, memory, vCPU, buses, devices, cache)."""

from __future__ import annotations

from collections.abc import Callable

from unicorn import x86_const as R

from bt.apicsetup import make_apics, place_apics
from bt.bios.fwtables import multiboot_chunks
from bt.bios.rom import load as load_bios_rom
from bt.blockfaults import BlockFaults
from bt.blockmaker import BlockMaker, guest_bytes_of
from bt.board import add_board
from bt.bootimage import BootImage
from bt.budget import BudgetStop
from bt.bus import Bus
from bt.cache.cache import TranslationCache
from bt.cache.codebuf import CodeBuffer
from bt.cache.persist import PersistentStore
from bt.callouts.context import CalloutContext
from bt.callouts.fpustate import (
    FPCW_RESET,
    FPTAG_EMPTY,
    MXCSR_RESET,
    FpuPointers,
    sync_control,
)
from bt.devices.cmos import Cmos
from bt.devices.debugcon import DebugCon
from bt.devices.exit_port import ExitPort
from bt.devices.i8042 import I8042
from bt.devices.ide_isa import IdeController
from bt.devices.irqline import IrqLine
from bt.devices.isairqs import IsaIrqs
from bt.devices.keytypist import KeyTypist
from bt.devices.pic8259 import PicPair
from bt.devices.pit8254 import Pit8254
from bt.devices.postcode import POST_PORT, PostCode
from bt.devices.uart16550 import Uart16550
from bt.devices.vga import VgaText, boot_screen_cells
from bt.engine import GPRS, Engine
from bt.errors import OptionError
from bt.events import EventDelivery
from bt.guestmmu import guest_paging
from bt.halt import HaltWait
from bt.hookexit import MONITOR_ENTRY_NS, ExitDispatch
from bt.insncount import InsnCounter
from bt.interrupts import InterruptPolicy
from bt.irq import IrqSource
from bt.keypolicy import KeyPolicy
from bt.layout import TC_LINEAR, TC_SIZE
from bt.limits import Limits
from bt.machine_state import MachineParts, MachineState
from bt.machineconfig import MachineConfig as MachineConfig  # re-exported: its users import it here
from bt.memory import GuestMemory
from bt.mmio import MmioDevices
from bt.mmiostop import MmioStop
from bt.portfast import PortFastPath
from bt.runloop import RunLoop
from bt.runresult import RunResult
from bt.runstate import RunState
from bt.shadow import InterruptShadow
from bt.smc import SmcHandler
from bt.storelookup import StoreLookup
from bt.timebase import HostClock, TimerDevice, TimeStampCounter, VirtualClock
from bt.translator.assembler import Assembler
from bt.translator.features import FeatureGate
from bt.translator.rewriter import Rewriter
from bt.translator.scanner import Scanner
from bt.types import CodeAddr
from bt.vcpu import ARITH_FLAGS, FIXED_ONE, IF, boot_vcpu

COM1 = 0x3F8
DEBUGCON = 0xE9
EXIT_PORT = 0xF4


def _exit_watch(machine: Machine, port: ExitPort) -> _ExitWatch:
    """The exit port as the bus sees it: a write ends the run with the guest's status."""
    return _ExitWatch(
        port,
        lambda st: machine.runloop.request_shutdown(
            st, f"guest wrote to the exit port (status {st})"
        ),
    )


def _end_run(machine: Machine) -> Callable[[str], None]:
    """A board device's way to end the run (a reset, a power-off) after this instruction."""
    return lambda what: machine.runloop.request_shutdown(0, f"guest {what}")


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
        self.engine = Engine(config.mem_size, image.rom, image.read_only)
        self.memory = GuestMemory(self.engine, config.mem_size)
        for chunk in image.chunks:
            self.memory.load(chunk.paddr, chunk.data)
        if image.kind == "multiboot":  # QEMU runs SeaBIOS first: its tables are there
            for addr, data in multiboot_chunks(config.platform(), load_bios_rom()):
                self.memory.load(addr, data)
        self.vcpu = boot_vcpu(image)
        # Real mode: the guest's own loads of DS/ES/FS/GS run natively (bt/realsegments.py).
        self.engine.segments.on_native_load = self.vcpu.native_load
        # Guest paging: Unicorn's walker on shadow tables, the fill hook, the monitor's own
        # accesses and the block keys all translate through this one MMU (the CPU model says
        # whether it has NX, and its MAXPHYADDR).
        cpu = config.cpu
        self.mmu = guest_paging(
            self.engine, self.memory, self.vcpu, nx=cpu.has("nx"), maxphyaddr=cpu.maxphyaddr
        )
        self.io = Bus()
        self.uart = Uart16550(serial_out)
        self.io.register(COM1, 8, self.uart, "com1")
        self.debugcon = DebugCon(debug_out or (lambda _b: None))
        self.io.register(DEBUGCON, 1, self.debugcon, "debugcon")
        self._add_pc_devices(config.mem_size, config.realtime)
        # What the machine type adds (--machine): bt/board.py chooses.
        pam = self.engine.view.set_shadow_read_only
        self.board = add_board(
            config.machine, config.mem_size, self.memory, self.io, self.clock, _end_run(self), pam
        )
        self.asm = Assembler()
        self.scanner = Scanner(FeatureGate(cpu.features))
        self.rewriter = Rewriter(self.asm)
        # The top page of the window holds stubs; a small --cache-size shrinks the region too.
        self.codebuf = CodeBuffer(TC_LINEAR, min(TC_SIZE - 0x1000, config.cache_size))
        self.cache = TranslationCache(
            self.engine,
            self.codebuf,
            self.rewriter.exit_slot,
            chaining=config.chaining,
            on_code_page=self.engine.view.protect_page,
            host_budget=config.cache_size,
        )
        self.fpu = FpuPointers(self.engine, self.vcpu, self._guest_eip_at)
        self.cache.on_insert.append(lambda tb: self.fpu.note_block(r.insn for r in tb.insns))
        self.cache.on_retire.append(self.fpu.retiring)
        self.cache.before_flush.append(self.fpu.freeze)
        self.tsc = TimeStampCounter(self.clock)
        self.ctx = CalloutContext(self.engine, self.vcpu, self.memory, self.io, self.tsc)
        self.ctx.fpu = self.fpu
        self.ctx.cpu = cpu
        # --keys: typed one key at a time when the guest is ready (bt/devices/keytypist.py).
        self.key_buffer_empty: Callable[[], bool] = lambda: True  # the BIOS's, when there is one
        self.typist = KeyTypist(
            config.keys.decode("latin-1"), self.kbd.feed_scancodes, lambda: _ready_for_key(self), 0
        )
        self.store: PersistentStore | None = None
        if config.cache_dir is not None:
            import sqlite3  # here only: a run without --cache-dir starts faster without it

            try:
                self.store = PersistentStore(config.cache_dir, variant=cpu.name)
            except (OSError, sqlite3.Error) as exc:
                raise OptionError(f"--cache-dir: cannot use {config.cache_dir}: {exc}") from None
        self._build_run_loop(config, image.entry)
        self.exit_port = ExitPort()
        self.io.register(EXIT_PORT, 4, _exit_watch(self, self.exit_port), "isa-debug-exit")
        self._start_cpu(image)
        if config.count_insns:
            self.count_instructions()
        self.tracer = None
        if config.trace_path is not None:
            from bt.tracefile import TraceWriter
            from bt.tracer import Tracer

            writer = TraceWriter(config.trace_path, config.trace_level, "bt", config.guest_name)
            self.tracer = Tracer(
                self.engine, self.cache, self.vcpu, writer, config.trace_level, config.trace_window
            )
            self.ctx.io = self.tracer.watch_ports(self.io)
            self.events.on_deliver = self.tracer.interrupt

    def _build_run_loop(self, config: MachineConfig, entry: int) -> None:
        """The run loop and its parts, each given exactly what it uses."""
        vcpu, engine, cache = self.vcpu, self.engine, self.cache
        self.state = RunState(entry)
        self.limits = Limits(engine.backstop)
        timers: tuple[TimerDevice, ...] = (self.pit, self.cmos, self.typist, *self.apics.timers())
        self.irq = IrqSource(self.clock, self.apics.cpu_side(self.pics), timers, (self._uart_line,))
        self.irq.nmi = self.apics.nmi
        vclock = self.clock if isinstance(self.clock, VirtualClock) else None
        mmio = MmioDevices(engine, vclock, MONITOR_ENTRY_NS, self.irq)
        place_apics(self.apics, mmio, self.ctx)
        # COM1 and 0xE9 answered by the native port hook while plain; off while tracing,
        # which records every port access.
        self.portfast = PortFastPath(
            engine.native_io,
            self.uart,
            self.debugcon,
            MONITOR_ENTRY_NS,
            vclock,
            self.irq,
            enabled=config.trace_path is None,
        )
        engine.on_native_io = self.portfast.take_back
        engine.on_resume = self.portfast.resume
        self.keys = KeyPolicy(vcpu, self.ctx, self.irq, bake=config.inline)
        lookup = StoreLookup(self.store, guest_bytes_of(self.memory)) if self.store else None
        self.maker = BlockMaker(
            self.memory, cache, self.scanner, self.rewriter, self.keys, lookup, self.limits
        )
        shadow = InterruptShadow(vcpu, self.state)
        interrupts = InterruptPolicy(vcpu, self.irq, shadow)
        self.events = EventDelivery(self.ctx, vcpu, self.state.counters.vectors)
        faults = BlockFaults(vcpu, self.state, self.events)
        self.maker.on_fetch_fault = faults.fetch_fault
        self.maker.on_breakpoint = faults.breakpoint
        self.halt = HaltWait(vcpu, self.irq, interrupts, vclock, self.limits, config.realtime)
        dispatch = ExitDispatch(
            engine,
            vcpu,
            self.ctx,
            cache,
            self.maker,
            self.keys,
            self.events,
            shadow,
            self.halt,
            self.limits,
            self.state,
            self.irq,
            interrupts,
            vclock,
        )
        smc = SmcHandler(engine, cache, self.maker, self.state)
        self.memory.on_code_write = smc.monitor_wrote
        budget = BudgetStop(
            vcpu, cache, interrupts, shadow, self.events, dispatch, vclock, self.state
        )
        self.runloop = RunLoop(
            engine,
            cache,
            self.maker,
            dispatch,
            self.events,
            self.halt,
            smc,
            budget,
            self.limits,
            self.state,
        )
        self.runloop.mmio_stop = MmioStop(mmio, cache, self.maker, budget, self.state)

    def count_instructions(self) -> None:
        """Count guest instructions exactly (a Python block hook: slow; for --max-insns,
        --count-insns and measurement). Before the first run: later hooks miss compiled code."""
        if self.runloop.counter is None:
            self.runloop.attach_counter(InsnCounter(self.engine, self.cache, self.state))

    def attach_console(
        self,
        poll: Callable[[], None],
        wait: Callable[[float], bool],
    ) -> None:
        """Host input and display: polled at safe points, waited on while the guest halts."""
        self.irq.add_poller(poll)
        self.halt.wait_for_input = wait

    def _state_parts(self) -> MachineParts:
        return MachineParts(
            self.vcpu,
            self.pics,
            self.pit,
            self.cmos,
            self.kbd,
            self.uart,
            self.vga,
            self.debugcon,
            self.exit_port,
            self.postcode,
            self.ide,
            self.clock,
            self.tsc,
            self.board,
        )

    def save_state(self) -> MachineState:
        """The machine's state record (bt/machine_state.py), between runs."""
        return self._state_parts().save()

    def restore_state(self, state: MachineState) -> None:
        """Restore a record from `save_state`, between runs; translations built on the old
        virtual state are retired and the devices' deadlines asked again."""
        self._state_parts().restore(state)
        self.engine.segments.set_real(self.vcpu.real_segments, self.vcpu.segs)
        self.mmu.set_mode()  # the walker and the shadow tables follow the restored CR0/CR3/CR4
        self.cache.flush("machine state restored")
        self.irq.devices_changed()

    def _guest_eip_at(self, code_addr: int) -> int | None:
        """The guest EIP of the instruction translated at `code_addr` (a block being retired
        too: the cache tells the FPU before it drops the block)."""
        tb = self.cache.block_at(CodeAddr(code_addr))  # the real FIP, a plain int
        return tb.guest_eip_at(CodeAddr(code_addr)) if tb is not None else None

    def _uart_line(self) -> None:
        # COM1's interrupt output drives IRQ 4 (a level the PIC sees as an edge when it rises).
        self.isa.set_irq(4, 1 if self.uart.irq_pending() else 0)

    def _add_pc_devices(self, mem_size: int, realtime: bool) -> None:
        """The PC platform a Multiboot kernel finds, in the state QEMU + SeaBIOS leave it.

        The clock is virtual and deterministic unless `realtime`. Until translated code counts
        instructions itself, it advances by a fixed step each time the monitor runs (callouts
        and exits), and to the next timer event when the guest halts or spins without
        entering the monitor, so a guest sees time move the same way on every run.
        """
        self.clock: VirtualClock | HostClock = HostClock() if realtime else VirtualClock()
        self.pics = PicPair()
        io = self.io
        io.register(0x20, 2, self.pics.master, "pic-master")
        io.register(0xA0, 2, self.pics.slave, "pic-slave")
        io.register(0x4D0, 2, self.pics.elcr, "elcr")
        cfg, booted = self.config, not self.image.rom  # a --bios ROM starts from reset
        self.apics = make_apics(cfg.cpu, cfg.machine, self.clock, self.pics, booted)
        self.isa = IsaIrqs(self.pics, self.apics.ioapic)  # each ISA line to both
        self.pit = Pit8254(self.clock, irq=IrqLine(self.isa, 0))
        io.register(0x40, 4, self.pit, "pit")
        io.register(0x61, 1, self.pit.speaker, "port61")
        self.cmos = Cmos(self.clock, mem_size, irq=IrqLine(self.isa, 8))
        io.register(0x70, 2, self.cmos, "cmos")
        self.kbd = I8042(
            irq_kbd=IrqLine(self.isa, 1),
            irq_aux=IrqLine(self.isa, 12),
            on_a20=self.engine.view.set_a20,
            on_reset=lambda: self.runloop.request_shutdown(
                0, "guest reset the machine through the keyboard controller"
            ),
        )
        io.register(0x60, 1, self.kbd.data, "kbd-data")
        io.register(0x64, 1, self.kbd.command, "kbd-command")
        self.vga = VgaText(self.memory)
        io.register(0x3B0, 0x30, self.vga, "vga")
        self.postcode = PostCode()
        io.register(POST_PORT, 1, self.postcode, "postcode")
        self.ide = IdeController(self.config.disks, lambda line: IrqLine(self.isa, line))
        self.ide.register(io)  # both channels, on pc and isapc alike (as QEMU)
        # The text screen as QEMU's firmware leaves it at the kernel's entry.
        self.memory.load(0xB8000, boot_screen_cells())

    def _start_cpu(self, image: BootImage) -> None:
        eng = self.engine
        eng.start_cpu(image.gpr[4])
        for name in ("es", "ss", "ds", "fs", "gs"):
            seg = self.vcpu.segs[name]
            null = self.vcpu.null(seg.selector)
            eng.load_shadow(name, seg.base, seg.limit, seg.flags, null, seg.selector)
        eng.segments.set_real(self.vcpu.real_segments, self.vcpu.segs)
        eng.uc.reg_write_batch(list(zip(GPRS, image.gpr, strict=True)))
        # The real EFLAGS: the arithmetic bits and the guest's IF (bt/vcpu.py).
        eng.uc.reg_write(R.UC_X86_REG_EFLAGS, (image.eflags & (ARITH_FLAGS | IF)) | FIXED_ONE)
        # The SSE state a reset leaves (Unicorn's own defaults differ: bt/callouts/fpustate.py).
        sync_control(eng, self.vcpu)
        eng.uc.reg_write(R.UC_X86_REG_MXCSR, MXCSR_RESET)
        eng.uc.reg_write(R.UC_X86_REG_FPCW, FPCW_RESET)
        eng.uc.reg_write(R.UC_X86_REG_FPTAG, FPTAG_EMPTY)

    def run(self, max_insns: int | None = None, timeout: float | None = None) -> RunResult:
        """Run the guest until it halts, stops, crashes or reaches a limit."""
        if max_insns is not None:
            self.count_instructions()
        try:
            return self.runloop.run(max_insns=max_insns, timeout=timeout)
        finally:
            if self.tracer is not None:
                self.tracer.close()
            if self.store is not None:
                self.store.close()
                self.store = None


def _ready_for_key(m: Machine) -> bool:
    """Whether the guest can take a typed key: the controller's output buffer read, IRQ 1
    unmasked (at the 8259 or the IOAPIC), the BIOS's keyboard buffer (if any) drained."""
    irq1 = not m.pics.master.imr & 0x02 or m.apics.routes(1)
    return m.kbd.output_empty() and irq1 and m.key_buffer_empty()
