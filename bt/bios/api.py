"""What a BIOS service sees of the machine: the caller's registers, memory, ports and time."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol


class BiosCpu(Protocol):
    """The registers of the code that called the service (through INT n or a far call to the
    vector's ROM entry), in real mode or V86 mode."""

    def reg(self, name: str) -> int:
        """A general register by name: eax..edi, ax..di, al/ah..dl/dh."""
        ...

    def set_reg(self, name: str, value: int) -> None:
        """Set a general register; sub-registers keep the other bits."""
        ...

    def seg(self, name: str) -> int:
        """A segment register's selector (es, cs, ss, ds, fs, gs)."""
        ...

    def set_seg(self, name: str, selector: int) -> None:
        """Load a data segment register (es, ds, fs, gs) as real mode would (base = sel * 16)."""
        ...

    def linear(self, seg: str, offset: int) -> int:
        """The linear address of `seg`:`offset` (offset wraps at 64 KiB)."""
        ...

    def flag(self, name: str) -> bool:
        """A flag of the FLAGS image the caller's INT pushed (cf, zf, if): what IRET returns."""
        ...

    def set_flag(self, name: str, value: bool) -> None:
        """Set cf or zf in that image (the service's result, as a BIOS returns it)."""
        ...


class PhysMemory(Protocol):
    """Guest-physical memory (RAM, and the ROM, which reads as it is and ignores writes)."""

    def read_phys(self, phys: int, n: int) -> bytes:
        """`n` bytes at `phys`."""
        ...

    def write_phys(self, phys: int, data: bytes) -> None:
        """Write `data` at `phys`."""
        ...


class Ports(Protocol):
    """The I/O port bus, as the guest's IN and OUT reach it (devices see the accesses)."""

    def read(self, port: int, size: int) -> int:
        """IN of `size` bytes (1, 2 or 4)."""
        ...

    def write(self, port: int, size: int, value: int) -> None:
        """OUT of `size` bytes."""
        ...


@dataclass(frozen=True, slots=True)
class BiosCall:
    """One call of a service: the vector it was entered for and what it may touch."""

    vector: int
    cpu: BiosCpu
    mem: PhysMemory
    ports: Ports
    now_ns: int  # virtual time (bt/timebase.py): the tick count and RTC services read it


class Outcome(Enum):
    """What the monitor does after a service returns."""

    DONE = "done"  # go on after the ROM entry (its IRET returns to the caller)
    WAIT = "wait"  # nothing to return yet (INT 16h read with an empty buffer): halt with
    # interrupts enabled until the next interrupt, as SeaBIOS's `sti; hlt` loop does, then
    # call the service again


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A service the guest called that the BIOS does not implement: the monitor names it in
    a one-line report, returns CF set (`cf`) and AH = `code` (0x86, SeaBIOS's "function not
    supported"; None: AH kept) and counts it for --stats. SeaBIOS answers an unknown function
    differently per vector: INT 15h CF and AH = 0x86, INT 14h and 1Ah CF only, INT 10h and
    16h nothing at all (measured under QEMU 7.2); the service says which."""

    vector: int
    ah: int
    what: str  # e.g. "INT 10h AH=4Fh (VESA)"
    cf: bool = True
    code: int | None = 0x86


class BootAction(Enum):
    """What a Reboot result asks of the monitor."""

    NO_BOOTABLE_DEVICE = "no bootable device"  # INT 18h: end the run with that report
    BOOT = "boot"  # INT 19h: load the boot sector again and enter it (BIOS state kept)
    RESET = "reset"  # the reset entry or Ctrl+Alt+Del: POST again, then boot


@dataclass(frozen=True, slots=True)
class Reboot:
    """A service that ends the guest's current boot: the monitor maps it to a run end or a
    new boot (SeaBIOS prints "No bootable device." for INT 18h with nothing left to try)."""

    vector: int
    action: BootAction


ServiceResult = Outcome | Unsupported | Reboot


class Service(Protocol):
    """The handler of one interrupt vector's ROM entry."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        """Perform the function the caller's registers name."""
        ...
