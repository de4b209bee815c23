"""MachineConfig: what the user chose for one VM (bt/machine.py builds the VM from it)."""

from __future__ import annotations

from dataclasses import dataclass

from bt.bios.tableinfo import Platform
from bt.cache.cache import DEFAULT_HOST_BUDGET
from bt.cpumodel import DEFAULT as DEFAULT_CPU
from bt.cpumodel import CpuModel
from bt.devices.diskimage import DiskImage


@dataclass(frozen=True, slots=True)
class MachineConfig:
    """What the user chose for one VM."""

    mem_size: int
    chaining: bool = True
    inline: bool = True  # inline emulation of sensitive instructions (translator/inline.py)
    count_insns: bool = False
    trace_path: str | None = None
    trace_level: str = "block"
    trace_window: tuple[int, int] | None = None  # linear [start, end) the trace records
    guest_name: str = ""
    cache_dir: str | None = None
    cache_size: int = DEFAULT_HOST_BUDGET  # host bytes the translation cache may use
    realtime: bool = False  # device time follows the host clock instead of the guest's work
    keys: bytes = b""  # text typed on the keyboard (--keys FILE), as the host sent it
    cpu: CpuModel = DEFAULT_CPU  # the CPU model the guest sees (--cpu)
    machine: str = "pc"  # the machine type (--machine): "pc" or "isapc", as QEMU's -M
    disks: tuple[DiskImage | None, ...] = ()  # the IDE positions' images (--hda..--hdd)

    def platform(self) -> Platform:
        """What the firmware tables describe (bt/bios/fwtables.py): machine, RAM, boot CPU."""
        eax, _, _, edx = self.cpu.cpuid(1, 0)
        return Platform(self.machine, self.mem_size, eax, edx, self.cpu.has("apic"))
