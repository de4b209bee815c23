"""pc_boot: a machine that boots a disk image through the built-in BIOS, as QEMU + SeaBIOS do.

The ROM (bt/bios/rom.bin, with the firmware tables of bt/bios/fwtables.py) is mapped at
0xF0000, POST (bt/bios/post.py) writes the IVT, BIOS
data area and EBDA and programs the PICs, PIT and RTC, the boot drive's first sector is at
0000:7C00, and the vCPU starts there in real mode with SeaBIOS's registers (DL = the drive).
Every ROM entry point's service runs in the monitor (bt/callouts/bios.py), INT 13h on the
plan's drives (bt/bios/int13.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bt.bios import rom as bios_rom
from bt.bios.biosdrive import BiosDrive
from bt.bios.edd import FarPtr
from bt.bios.fwtables import firmware_tables, ram_tables, rom_with_tables
from bt.bios.int13 import Int13
from bt.bios.pcibios32 import protected_entries, rom_image
from bt.bios.post import Chs, DiskCounts, boot_state, post
from bt.bios.services import entry_services
from bt.bios.stats import BiosCounter
from bt.bootimage import MemoryChunk
from bt.bootplan import BootPlan
from bt.callouts.bios import BiosRuntime, PhysicalRam
from bt.devices.diskgeometry import Geometry
from bt.devices.port92 import Port92
from bt.errors import OptionError
from bt.linuxboot import LinuxLoad
from bt.machine import Machine, MachineConfig
from bt.realboot import BOOT_SECTOR_ADDR, RealModeEntry, real_mode_image

ROM_BASE = 0xF0000
EBDA_SEGMENT = 0x9FC0
DPTE_OFFSET = 0x3C0  # 16 bytes of the EBDA for INT 13h AH=48h's DPTE (SeaBIOS: its own RAM)
MIN_RAM = 1 << 20


@dataclass(slots=True)
class PcBoot:
    """The booted machine and the BIOS parts --stats reports."""

    machine: Machine
    counter: BiosCounter
    int13: Int13

    def stat_lines(self) -> list[str]:
        """--stats: the BIOS functions the guest called, and INT 13h's transfers."""
        disk = self.int13.statistics()
        lines = self.counter.stats().lines()
        lines.append(f"INT 13h sectors: {disk.sectors_read} read, {disk.sectors_written} written")
        lines += [
            f"INT 13h AH={ah:02X}h: {n} (unknown to SeaBIOS)" for ah, n in disk.unknown.items()
        ]
        return lines


def pc_boot(
    config: MachineConfig,
    plan: BootPlan | None,
    serial_out: Callable[[bytes], None],
    debug_out: Callable[[bytes], None] | None = None,
    on_unsupported: Callable[[str], None] | None = None,
    linux: LinuxLoad | None = None,
) -> PcBoot:
    """The machine of `plan`, ready to run from its boot drive's boot sector, or from the
    real-mode setup code of the Linux kernel `linux` (`plan`: its drives, if any)."""
    if linux is None and (plan is None or plan.boot_drive is None):
        raise OptionError("no boot drive: give a disk image (--fda, --hda or bt run IMG)")
    if config.mem_size < MIN_RAM:
        raise OptionError(f"--mem: booting from a disk needs at least 1 MiB, not {config.mem_size}")
    rom = bios_rom.load()
    tables = firmware_tables(config.platform(), rom)
    # The tables in the ROM's free space, then the machine's BIOS32 header and $PIR table.
    image32 = rom_image(rom_with_tables(rom, tables), config.machine)
    firmware = (
        MemoryChunk(ROM_BASE, image32),
        *(MemoryChunk(addr, data) for addr, data in ram_tables(tables)),
    )
    if linux is not None:
        chunks, entry, image_range = _linux_entry(linux, firmware)
        boot_drive = None
    else:
        assert plan is not None and plan.boot_drive is not None
        boot_drive = plan.boot_drive
        state = boot_state(boot_drive)
        regs = (state.eax, state.ecx, state.edx, state.ebx, state.sp, state.ebp, state.esi)
        entry = RealModeEntry(
            cs=state.cs,
            ip=state.ip,
            ss=state.ss,
            sp=state.sp,
            ds=state.ds,
            gpr=(*regs, state.edi),
            eflags=state.eflags,
            cr0=state.cr0,
        )
        sector = plan.boot_sector
        chunks = (*firmware, MemoryChunk(BOOT_SECTOR_ADDR, sector))
        image_range = (BOOT_SECTOR_ADDR, BOOT_SECTOR_ADDR + len(sector))
    if plan is None:
        plan = BootPlan({0: BiosDrive(None, 0)}, None, b"", 0)
    image = real_mode_image(chunks, entry, image_range)
    # SeaBIOS leaves its F0000 shadow read-only on pc (make_bios_readonly_intel: PAM0 = 0x10,
    # reads from RAM, writes to PCI, where nothing takes them): the i440FX's PAM registers make
    # it so (bt/board.py). On isapc QEMU's firmware sits in RAM, writable.
    m = Machine(config, image, serial_out, debug_out)
    port92 = Port92(on_a20=m.engine.view.set_a20)
    m.io.register(0x92, 1, port92, "port92")
    m.io.write(0x70, 1, 0x10)  # CMOS 0x10: the floppy drive types SeaBIOS reads
    m.io.write(0x71, 1, plan.cmos_floppy)
    hard_disks = [d for n, d in sorted(plan.drives.items()) if n >= 0x80]
    geometries = tuple(
        (_chs(d.bios_geometry), _chs(d.image.geometry))
        for d in hard_disks[:2]
        if d.image is not None
    )
    floppies = sum(1 for n in plan.drives if n < 0x80)
    disks = DiskCounts(floppies, len(hard_disks), geometries)
    ram = PhysicalRam(m.memory)
    post(ram, m.io, config.mem_size, boot_drive, disks)
    seg, off = rom.ivt[0x1E]
    dpte = FarPtr(EBDA_SEGMENT, DPTE_OFFSET)
    int13 = Int13(plan.drives, diskette_table=FarPtr(seg, off), dpte=dpte)
    counter = BiosCounter()
    table = entry_services(config.mem_size, int13, counter, config.machine)
    protected = protected_entries(config.machine)
    runtime = BiosRuntime(table, m.io, m.clock.now_ns, protected)
    runtime.on_unsupported = on_unsupported
    m.key_buffer_empty = lambda: ram.read_phys(0x41A, 2) == ram.read_phys(0x41C, 2)
    m.ctx.bios = runtime
    m.maker.services = runtime.entries
    m.maker.protected_services = dict.fromkeys(protected, 0x1A)
    return PcBoot(m, counter, int13)


def _linux_entry(
    linux: LinuxLoad, firmware: tuple[MemoryChunk, ...]
) -> tuple[tuple[MemoryChunk, ...], RealModeEntry, tuple[int, int]]:
    """The memory and registers linuxboot_dma.bin leaves at the setup code's entry (measured
    under QEMU 7.2: CS = the setup segment + 0x20, IP 0, the other segments the setup segment,
    SP 16 bytes below the command line, EAX = CS, IF clear, GDTR limit 0)."""
    seg = linux.setup_segment
    chunks = [
        *firmware,
        MemoryChunk(linux.real_addr, linux.setup),
        MemoryChunk(linux.prot_addr, linux.payload),
        MemoryChunk(linux.cmdline_addr, linux.cmdline),
    ]
    if linux.initrd:
        chunks.append(MemoryChunk(linux.initrd_addr, linux.initrd))
    entry = RealModeEntry(
        cs=seg + 0x20,
        ip=0,
        ss=seg,
        sp=linux.stack_pointer,
        ds=seg,
        es=seg,
        fs=seg,
        gs=seg,
        gpr=(seg + 0x20, 0, 0, 0, linux.stack_pointer, 0, 0, 0),
        eflags=0x46,
        cr0=0x10,
        gdtr=(0, 0),
    )
    return tuple(chunks), entry, (linux.real_addr, linux.real_addr + len(linux.setup))


def _chs(g: Geometry) -> Chs:
    return Chs(g.cylinders, g.heads, g.sectors)
