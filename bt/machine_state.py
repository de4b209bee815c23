"""MachineState: the one place that enumerates a machine's state, and the parts that save it.

A machine's state is the vCPU's virtual state, every device's registers and the time base. Each
part saves and restores its own record (bt/devices/records.py, bt/vcpu.py, bt/timebase.py);
`MachineParts` names the parts once and walks them in one order. Two pieces are not here yet
and have a named place for the snapshot issue:

- `guest_ram`: guest physical memory (the VGA text screen included: it is RAM).
- `cpu_context`: the real CPU's registers as Unicorn holds them (general registers, the
  arithmetic flags, FPU/SSE state, the segment shadows mirrored from the vCPU) and the guest
  EIP the run loop holds while translated code runs at translation-cache addresses.

Both are None in every record this version writes, and `restore` refuses a record that sets
them: a restore that silently dropped them would hand back a different machine.
"""

from __future__ import annotations

from dataclasses import dataclass

from bt.board import Board
from bt.devices.cmos import Cmos
from bt.devices.debugcon import DebugCon
from bt.devices.exit_port import ExitPort
from bt.devices.i8042 import I8042
from bt.devices.ide_isa import IdeController
from bt.devices.ide_state import IdeState
from bt.devices.pic8259 import PicPair
from bt.devices.pit8254 import Pit8254
from bt.devices.postcode import PostCode
from bt.devices.records import (
    CmosState,
    DebugConState,
    ExitPortState,
    FwCfgState,
    I8042State,
    PciState,
    PicPairState,
    PitState,
    PmState,
    PostCodeState,
    UartState,
    VgaState,
)
from bt.devices.uart16550 import Uart16550
from bt.devices.vga import VgaText
from bt.errors import BtError
from bt.staterecord import check_record, require
from bt.timebase import (
    HostClock,
    HostClockState,
    TimeStampCounter,
    TscState,
    VirtualClock,
    VirtualClockState,
)
from bt.vcpu import Vcpu, VcpuState


@dataclass(frozen=True, slots=True)
class MachineState:
    """The whole machine's state: one record per part, plain data all the way down."""

    vcpu: VcpuState
    pic: PicPairState  # both 8259As with their ELCR bytes
    pit: PitState  # port 0x61 included
    cmos: CmosState
    i8042: I8042State
    com1: UartState
    vga: VgaState
    debugcon: DebugConState
    exit_port: ExitPortState
    postcode: PostCodeState
    ide: IdeState  # both IDE channels
    clock: VirtualClockState | HostClockState
    tsc: TscState
    fw_cfg: FwCfgState
    pci: PciState | None  # None on a machine without PCI (isapc)
    pm: PmState | None  # the PIIX4 PM's I/O; None on isapc
    guest_ram: None = None  # the snapshot issue (see the module docstring)
    cpu_context: None = None  # the snapshot issue (see the module docstring)
    version: int = 2  # 2: fw_cfg, pci and pm


@dataclass(frozen=True, slots=True)
class MachineParts:
    """The objects that hold a machine's state, as the builder wired them."""

    vcpu: Vcpu
    pic: PicPair
    pit: Pit8254
    cmos: Cmos
    i8042: I8042
    com1: Uart16550
    vga: VgaText
    debugcon: DebugCon
    exit_port: ExitPort
    postcode: PostCode
    ide: IdeController
    clock: VirtualClock | HostClock
    tsc: TimeStampCounter
    board: Board  # fw_cfg, and on pc the PCI host and the PM function's I/O

    def save(self) -> MachineState:
        """Every part's record."""
        return MachineState(
            vcpu=self.vcpu.save(),
            pic=self.pic.save(),
            pit=self.pit.save(),
            cmos=self.cmos.save(),
            i8042=self.i8042.save(),
            com1=self.com1.save(),
            vga=self.vga.save(),
            debugcon=self.debugcon.save(),
            exit_port=self.exit_port.save(),
            postcode=self.postcode.save(),
            ide=self.ide.save(),
            clock=self.clock.save(),
            tsc=self.tsc.save(),
            fw_cfg=self.board.fw_cfg.save(),
            pci=self.board.pci.save() if self.board.pci is not None else None,
            pm=self.board.pm.save() if self.board.pm is not None else None,
        )

    def restore(self, state: MachineState) -> None:
        """Restore every part, or none: a part that refuses its record (StateError) leaves the
        whole machine as it was."""
        state = check_record(state, MachineState, "machine")
        require(
            state.guest_ram is None and state.cpu_context is None,
            "machine",
            "guest RAM and the CPU context cannot be restored yet",
        )
        clock_record = VirtualClockState if isinstance(self.clock, VirtualClock) else HostClockState
        require(
            type(state.clock) is clock_record,
            "machine",
            f"a {type(state.clock).__name__} for a {type(self.clock).__name__}",
        )
        pci, pm = self.board.pci, self.board.pm
        require((state.pci is None) == (pci is None), "machine", "PCI on one machine only")
        require((state.pm is None) == (pm is None), "machine", "PM on one machine only")
        before = self.save()
        try:
            self._restore(state)
        except BtError:
            self._restore(before)
            raise

    def _restore(self, state: MachineState) -> None:
        self.vcpu.restore(state.vcpu)
        self.pic.restore(state.pic)
        self.pit.restore(state.pit)
        self.cmos.restore(state.cmos)
        self.i8042.restore(state.i8042)
        self.com1.restore(state.com1)
        self.vga.restore(state.vga)
        self.debugcon.restore(state.debugcon)
        self.exit_port.restore(state.exit_port)
        self.postcode.restore(state.postcode)
        self.ide.restore(state.ide)
        if isinstance(self.clock, VirtualClock):
            assert isinstance(state.clock, VirtualClockState)
            self.clock.restore(state.clock)
        else:
            assert isinstance(state.clock, HostClockState)
            self.clock.restore(state.clock)
        self.tsc.restore(state.tsc)
        board = self.board
        board.fw_cfg.restore(state.fw_cfg)
        if board.pci is not None and state.pci is not None:
            board.pci.restore(state.pci)
        if board.pm is not None and state.pm is not None:
            board.pm.restore(state.pm)
