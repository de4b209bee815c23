"""FwCfg: QEMU's firmware configuration interface (selector 0x510, data 0x511, DMA 0x514)."""

from __future__ import annotations

import struct
from typing import Protocol

from bt.devices.records import FwCfgState
from bt.staterecord import check_record, require, require_range
from bt.types import PAGE_SIZE

CTL_PORT = 0x510  # the selector (a 16-bit write), with the data byte at 0x511
DMA_PORT = 0x514  # the DMA address, high half at 0x514 and low half at 0x518 (big-endian)
KEY_MASK = 0x3FFF  # FW_CFG_ENTRY_MASK: the write-channel and arch-local bits aside
ARCH_LOCAL = 0x8000
FILE_DIR = 0x19
FILE_FIRST = 0x20
DMA_SIGNATURE = b"QEMU CFG"
# FWCfgDmaAccess.control bits
DMA_ERROR = 0x01
DMA_READ = 0x02
DMA_SKIP = 0x04
DMA_SELECT = 0x08
DMA_WRITE = 0x10


class PhysMemory(Protocol):
    """Guest-physical memory as the DMA engine reaches it (one page at a time)."""

    def read_phys(self, phys: int, n: int) -> bytes:
        """`n` bytes at `phys`, within one page."""
        ...

    def write_phys(self, phys: int, data: bytes) -> None:
        """Write `data` at `phys`, within one page."""
        ...


def file_dir(files: dict[str, bytes]) -> tuple[bytes, dict[int, bytes]]:
    """FW_CFG_FILE_DIR's contents and the files' keys: a big-endian count, then for each file
    in name order its size (BE32), key (BE16), two reserved bytes and a 56-byte name; keys
    from 0x20 in the same order (QEMU 7.2 keeps the directory sorted)."""
    out = bytearray(struct.pack(">I", len(files)))
    keys: dict[int, bytes] = {}
    for i, name in enumerate(sorted(files)):
        key = FILE_FIRST + i
        out += struct.pack(">IHH56s", len(files[name]), key, 0, name.encode())
        keys[key] = files[name]
    return bytes(out), keys


class FwCfg:
    """hw/nvram/fw_cfg.c's I/O interface with read-only entries.

    A 16-bit write to 0x510 selects a key and rewinds; each byte read from 0x510 or 0x511
    returns the next byte of the entry (0 past its end or for a key nothing answers); data
    writes are ignored (removed in QEMU 2.4). The DMA interface reads "QEMU CFG" and takes the
    big-endian address of an FWCfgDmaAccess {BE32 control, BE32 length, BE64 address}: its
    select, read, skip and write operations run at the write of the low half, and control is
    written back as 0, or with the error bit (a write: no entry here takes one).
    """

    def __init__(self, entries: dict[int, bytes], memory: PhysMemory) -> None:
        self.entries = entries
        self.memory = memory
        self.key: int | None = None
        self.offset = 0
        self.dma_address = 0
        self.dma = _FwCfgDma(self)

    def select(self, key: int) -> None:
        """Select `key` (its arch-local bit kept, the write-channel bit dropped)."""
        self.offset = 0
        key &= KEY_MASK | ARCH_LOCAL
        self.key = key if key in self.entries else None

    def _entry(self) -> bytes:
        return self.entries.get(self.key, b"") if self.key is not None else b""

    def read(self, offset: int, size: int) -> int:
        """A byte of the selected entry; a wider read answers 0 (not a valid access)."""
        if size != 1:
            return 0
        data = self._entry()
        if self.offset >= len(data):
            return 0
        self.offset += 1
        return data[self.offset - 1]

    def write(self, offset: int, size: int, value: int) -> None:
        """A 16-bit write at 0x510 selects; byte writes to the data port are ignored."""
        if offset == 0 and size == 2:
            self.select(value)

    def transfer(self) -> None:
        """Run the FWCfgDmaAccess at `dma_address` and write its control word back."""
        raw = self._read_mem(self.dma_address, 16)
        control, length, address = struct.unpack(">IIQ", raw)
        if control & DMA_SELECT:
            self.select(control >> 16)
        read, write = bool(control & DMA_READ), False
        if not read and control & DMA_WRITE:
            write = True
        elif not read and not control & DMA_SKIP:
            length = 0
        status = 0
        while length > 0 and not status & DMA_ERROR:
            data = self._entry()
            if self.offset >= len(data):
                n = length
                if read:
                    self._write_mem(address, bytes(n))
                if write:
                    status |= DMA_ERROR
            else:
                n = min(length, len(data) - self.offset)
                if read:
                    self._write_mem(address, data[self.offset : self.offset + n])
                if write:
                    status |= DMA_ERROR  # no entry here allows writes
                self.offset += n
            address += n
            length -= n
        self._write_mem(self.dma_address, struct.pack(">I", status))

    def save(self) -> FwCfgState:
        """The selection, the read offset and the DMA address."""
        return FwCfgState(key=self.key, offset=self.offset, dma_address=self.dma_address)

    def restore(self, state: FwCfgState) -> None:
        """Take the state `save` returned."""
        state = check_record(state, FwCfgState, "fw_cfg")
        require(state.key is None or state.key in self.entries, "fw_cfg", f"key {state.key}")
        require_range("fw_cfg", state, "offset", 0, 1 << 32)
        require_range("fw_cfg", state, "dma_address", 0, (1 << 64) - 1)
        self.key, self.offset, self.dma_address = state.key, state.offset, state.dma_address

    def _read_mem(self, phys: int, n: int) -> bytes:
        out = bytearray()
        while n > 0:
            step = min(n, PAGE_SIZE - (phys & (PAGE_SIZE - 1)))
            out += self.memory.read_phys(phys & 0xFFFFFFFF, step)
            phys, n = phys + step, n - step
        return bytes(out)

    def _write_mem(self, phys: int, data: bytes) -> None:
        done = 0
        while done < len(data):
            step = min(len(data) - done, PAGE_SIZE - (phys & (PAGE_SIZE - 1)))
            self.memory.write_phys(phys & 0xFFFFFFFF, data[done : done + step])
            phys, done = phys + step, done + step


class _FwCfgDma:
    """The DMA registers at 0x514-0x51B (big-endian, 32-bit halves)."""

    def __init__(self, fw: FwCfg) -> None:
        self._fw = fw

    def read(self, offset: int, size: int) -> int:
        """The bytes of "QEMU CFG" at `offset` (QEMU's DMA region reads its signature)."""
        return int.from_bytes(DMA_SIGNATURE[offset : offset + size].ljust(size, b"\0"), "little")

    def write(self, offset: int, size: int, value: int) -> None:
        """The address's high half at 0x514, the low half at 0x518 starts the transfer."""
        if size != 4:
            return
        half = int.from_bytes(value.to_bytes(4, "little"), "big")
        if offset == 0:
            self._fw.dma_address = half << 32
        elif offset == 4:
            self._fw.dma_address |= half
            self._fw.transfer()
