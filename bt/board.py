"""Board: the devices a machine type (--machine pc or isapc) adds to the ISA platform."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bt.bus import Bus
from bt.devices.fwcfg import CTL_PORT, DMA_PORT, FwCfg, PhysMemory
from bt.devices.fwcfg_items import fw_cfg_entries
from bt.devices.pcibus0 import pc_bus0
from bt.devices.pcihost import ADDRESS_PORT, PORTS, PciHost
from bt.devices.piix3_pmio import APM_PORT, PM_LENGTH, PMBA, Clock, PmIo


@dataclass(frozen=True, slots=True)
class Board:
    """The devices the machine type adds (bt/machine.py builds the ISA ones)."""

    fw_cfg: FwCfg
    pci: PciHost | None  # configuration mechanism 1 and bus 0; None on isapc
    pm: PmIo | None  # the PIIX4 PM function's I/O (PM1, PM timer, APM ports); None on isapc


def add_board(
    machine: str,
    mem_size: int,
    memory: PhysMemory,
    io: Bus,
    clock: Clock,
    on_reset: Callable[[str], None],
    on_pam: Callable[[int], None],
) -> Board:
    """The one place a machine type's devices are chosen, as QEMU 7.2's pc and isapc have them.

    Both: fw_cfg. pc: PCI bus 0 (i440FX, PIIX3) with the PIIX3's reset control at port 0xCF9,
    and the PM function's I/O at 0x600 (its PM timer on `clock`) and 0xB2. isapc has no PCI:
    0xCF8-0xCFF are unclaimed and read as all ones. `on_reset(how)` ends the run: a reset
    through 0xCF9, or a power-off through PM1_CNT. `on_pam(segments)`: the 16 KiB segments of
    0xC0000-0xFFFFF the i440FX's PAM registers make read-only (isapc: none, as QEMU's, whose
    firmware and option ROMs sit in RAM there).
    """
    fw_cfg = FwCfg(fw_cfg_entries(mem_size, machine), memory)
    io.register(CTL_PORT, 2, fw_cfg, "fw_cfg")
    io.register(DMA_PORT, 8, fw_cfg.dma, "fw_cfg-dma")
    if machine != "pc":
        return Board(fw_cfg, None, None)
    pci = pc_bus0(mem_size, lambda: on_reset("reset the machine through port 0xCF9"), on_pam)
    io.register(ADDRESS_PORT, PORTS, pci, "pci-config")
    pm = PmIo(clock, lambda: on_reset("powered the machine off through ACPI PM1_CNT"))
    io.register(PMBA, PM_LENGTH, pm, "pm")
    io.register(APM_PORT, 2, pm.apm, "apm")
    return Board(fw_cfg, pci, pm)
