"""PciHost: PCI configuration mechanism 1 at 0xCF8-0xCFF, reaching the functions of bus 0."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bt.devices.piix3 import ResetControl
from bt.devices.records import PciState
from bt.staterecord import check_record, require, require_range

ENABLE = 0x80000000
ADDRESS_PORT = 0xCF8
PORTS = 8  # 0xCF8-0xCFB CONFIG_ADDRESS, 0xCFC-0xCFF CONFIG_DATA
RESET_CONTROL_OFFSET = 1  # 0xCF9: the PIIX3's reset control register when there is one


class ConfigSpace(Protocol):
    """A function's configuration space as the host bridge reaches it."""

    config: bytearray  # its 256 bytes, for the machine's state record
    on_write: Callable[[int, int], None] | None  # told of writes (a restore: all 256 bytes)

    def read(self, offset: int, size: int) -> int:
        """`size` bytes at `offset` (0-255)."""
        ...

    def write(self, offset: int, size: int, value: int) -> None:
        """Write `size` bytes at `offset` (0-255)."""
        ...


class PciHost:
    """The i440FX's configuration ports, as QEMU 7.2's pci_host.c decodes them.

    CONFIG_ADDRESS (0xCF8) takes only a dword write at 0xCF8 and keeps every bit written; any
    read there (0xCF8, 0xCFA, 0xCFB at any width) answers the register cut to the access size.
    CONFIG_DATA (0xCFC-0xCFF) runs a configuration cycle only while bit 31 is set: offset
    (CONFIG_ADDRESS | port & 3) & 0xFF, bus bits 16-23 (only bus 0 exists), device and function
    bits 8-15; a function that does not exist reads all ones and drops writes. Mechanism 2 is
    absent, as on QEMU. Port 0xCF9 belongs to `reset_control` when the machine has one (QEMU
    overlaps it on this range at a higher priority; an access goes wholly to the region at its
    first port).
    """

    def __init__(self, reset_control: ResetControl | None = None) -> None:
        self.address = 0
        self.functions: dict[int, ConfigSpace] = {}  # devfn (device << 3 | function) on bus 0
        self._reset_control = reset_control

    def attach(self, device: int, function: int, space: ConfigSpace) -> None:
        """Put `space` at 00:device.function."""
        self.functions[device << 3 | function] = space

    def _target(self, port_low: int) -> tuple[ConfigSpace, int] | None:
        if not self.address & ENABLE or (self.address >> 16) & 0xFF:
            return None
        space = self.functions.get((self.address >> 8) & 0xFF)
        if space is None:
            return None
        return space, (self.address | port_low) & 0xFF

    def read(self, offset: int, size: int) -> int:
        """A read of port 0xCF8 + `offset`."""
        if offset == RESET_CONTROL_OFFSET and self._reset_control is not None:
            return self._reset_control.read(0, 1)
        if offset < 4:
            return self.address & ((1 << (8 * size)) - 1)
        hit = self._target(offset & 3)
        if hit is None:
            return (1 << (8 * size)) - 1
        space, reg = hit
        return space.read(reg, min(size, 256 - reg))

    def write(self, offset: int, size: int, value: int) -> None:
        """A write of port 0xCF8 + `offset`."""
        if offset == RESET_CONTROL_OFFSET and self._reset_control is not None:
            self._reset_control.write(0, 1, value & 0xFF)
            return
        if offset < 4:
            if offset == 0 and size == 4:
                self.address = value
            return
        hit = self._target(offset & 3)
        if hit is not None:
            space, reg = hit
            space.write(reg, min(size, 256 - reg), value)

    def save(self) -> PciState:
        """CONFIG_ADDRESS, the reset control register and every configuration space."""
        rcr = self._reset_control.rcr if self._reset_control is not None else 0
        spaces = tuple((devfn, bytes(s.config)) for devfn, s in sorted(self.functions.items()))
        return PciState(address=self.address, reset_control=rcr, spaces=spaces)

    def restore(self, state: PciState) -> None:
        """Take the state `save` returned (for the same functions)."""
        state = check_record(state, PciState, "pci")
        require_range("pci", state, "address", 0, 0xFFFFFFFF)
        devfns = tuple(devfn for devfn, _ in state.spaces)
        require(devfns == tuple(sorted(self.functions)), "pci", f"functions {devfns}")
        require(all(len(b) == 256 for _, b in state.spaces), "pci", "a space not of 256 bytes")
        require(state.reset_control in (0, 2), "pci", f"reset control {state.reset_control}")
        self.address = state.address
        if self._reset_control is not None:
            self._reset_control.rcr = state.reset_control
        for devfn, data in state.spaces:
            space = self.functions[devfn]
            space.config[:] = data
            if space.on_write is not None:
                space.on_write(0, 256)  # what the bytes control follows them (PAM)
