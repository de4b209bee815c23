"""PciFunction: one PCI function's 256-byte configuration space, with QEMU's write masks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CONFIG_SIZE = 256
HEADER_SIZE = 0x40  # the standard header; QEMU lets software write every byte above it
COMMAND = 0x04
STATUS = 0x06
CACHE_LINE_SIZE = 0x0C
INTERRUPT_LINE = 0x3C
ROM_SLOT = 0x30  # a type 0 header's expansion ROM BAR
ROM_ENABLE = 0x01

# QEMU's pci_init_wmask: I/O, memory, bus master, SERR and INTx disable are writable.
COMMAND_WMASK = 0x0001 | 0x0002 | 0x0004 | 0x0100 | 0x0400
# SeaBIOS's pci_bios_init_device: I/O, memory and SERR enabled on every function.
COMMAND_AT_ENTRY = 0x0103
# QEMU's pci_init_w1cmask: parity, target/master aborts, system error, detected parity.
STATUS_W1C = 0x0100 | 0x0800 | 0x1000 | 0x2000 | 0x4000 | 0x8000


@dataclass(frozen=True, slots=True)
class Bar:
    """A base address register: its config offset, size (a power of two) and type bits
    (bit 0 set: I/O space; 0x08: prefetchable memory; none for the ROM BAR)."""

    offset: int
    size: int
    kind: int = 0

    @property
    def wmask(self) -> int:
        """The bits software may write: the address bits above the size (QEMU's
        pci_register_bar), the enable bit too for the ROM BAR."""
        mask = ~(self.size - 1) & 0xFFFFFFFF
        return mask | ROM_ENABLE if self.offset == ROM_SLOT else mask


@dataclass(frozen=True, slots=True)
class Identity:
    """The read-only identity of a function: IDs, revision, class code, header type,
    subsystem IDs and interrupt pin (0: none, 1-4: INTA#-INTD#)."""

    vendor: int
    device: int
    revision: int
    class_code: int  # base class, subclass, programming interface: 0x010180
    header_type: int = 0x00  # bit 7: a multi-function device
    subsystem_vendor: int = 0x1AF4  # QEMU's (Red Hat) subsystem IDs
    subsystem: int = 0x1100
    interrupt_pin: int = 0
    status: int = 0x0000


def config_space(ident: Identity, bars: tuple[Bar, ...] = ()) -> bytearray:
    """The reset contents of a function's configuration space (before firmware wrote it)."""
    cfg = bytearray(CONFIG_SIZE)
    cfg[0:4] = (ident.vendor | ident.device << 16).to_bytes(4, "little")
    cfg[STATUS : STATUS + 2] = ident.status.to_bytes(2, "little")
    cfg[0x08:0x0C] = (ident.revision | ident.class_code << 8).to_bytes(4, "little")
    cfg[0x0E] = ident.header_type
    cfg[0x2C:0x30] = (ident.subsystem_vendor | ident.subsystem << 16).to_bytes(4, "little")
    cfg[0x3D] = ident.interrupt_pin
    for bar in bars:
        cfg[bar.offset] = bar.kind
    return cfg


class PciFunction:
    """A configuration space as QEMU's pci_default_write_config treats it: each byte written
    through its write mask, status bits cleared by writing ones, the IDs, class, header type,
    BAR type bits and interrupt pin read-only.

    Reads past the end of the 256 bytes are cut there (QEMU's pci_host_config_read_common
    reads MIN(len, 256 - offset) bytes). `on_write` hears each write's offset and size after
    it landed (the i440FX's PAM registers, the PIIX3's PIRQ routing).
    """

    def __init__(self, name: str, config: bytearray, bars: tuple[Bar, ...] = ()) -> None:
        if len(config) != CONFIG_SIZE:
            raise ValueError(f"{name}: configuration space of {len(config)} bytes")
        self.name = name
        self.config = config
        self.bars = bars
        self.wmask = bytearray(CONFIG_SIZE)
        self.w1cmask = bytearray(CONFIG_SIZE)
        self.wmask[COMMAND : COMMAND + 2] = COMMAND_WMASK.to_bytes(2, "little")
        self.w1cmask[STATUS : STATUS + 2] = STATUS_W1C.to_bytes(2, "little")
        self.wmask[CACHE_LINE_SIZE] = 0xFF
        self.wmask[INTERRUPT_LINE] = 0xFF
        self.wmask[HEADER_SIZE:] = b"\xff" * (CONFIG_SIZE - HEADER_SIZE)
        for bar in bars:
            self.wmask[bar.offset : bar.offset + 4] = bar.wmask.to_bytes(4, "little")
        self.on_write: Callable[[int, int], None] | None = None

    def read(self, offset: int, size: int) -> int:
        """`size` bytes at `offset`, little-endian, cut at the end of the space."""
        end = min(offset + size, CONFIG_SIZE)
        return int.from_bytes(self.config[offset:end], "little")

    def write(self, offset: int, size: int, value: int) -> None:
        """Write `size` bytes at `offset` through the masks (cut at the end of the space)."""
        end = min(offset + size, CONFIG_SIZE)
        for i, addr in enumerate(range(offset, end)):
            byte = (value >> (8 * i)) & 0xFF
            wm = self.wmask[addr]
            cur = (self.config[addr] & ~wm) | (byte & wm)
            self.config[addr] = cur & ~(byte & self.w1cmask[addr]) & 0xFF
        if self.on_write is not None:
            self.on_write(offset, end - offset)

    def set_bytes(self, offset: int, data: bytes) -> None:
        """Firmware's writes at set-up (no masks): what SeaBIOS leaves in the space."""
        self.config[offset : offset + len(data)] = data

    def byte(self, offset: int) -> int:
        """One configuration byte as it stands."""
        return self.config[offset]


def firmware_left(fn: PciFunction, values: dict[int, int]) -> PciFunction:
    """`fn` with the command register SeaBIOS leaves and `values` (offset: byte) set."""
    fn.set_bytes(COMMAND, COMMAND_AT_ENTRY.to_bytes(2, "little"))
    for offset, value in values.items():
        fn.set_bytes(offset, bytes((value,)))
    return fn
