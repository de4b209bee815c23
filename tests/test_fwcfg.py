"""QEMU's fw_cfg: selection and byte reads, the file directory, the DMA interface, and the
entries each machine type offers (values measured under QEMU 7.2 with guests/pci.asm)."""

from __future__ import annotations

import dataclasses
import struct

import pytest

from bt.devices.fwcfg import (
    DMA_ERROR,
    DMA_READ,
    DMA_SELECT,
    DMA_SKIP,
    DMA_WRITE,
    FwCfg,
    file_dir,
)
from bt.devices.fwcfg_items import e820_table, fw_cfg_entries
from bt.errors import StateError

MB = 1 << 20
ACCESS = 0x1000  # where the tests put an FWCfgDmaAccess
BUF = 0x2000


class _Ram:
    def __init__(self, size: int = 0x10000) -> None:
        self.data = bytearray(size)

    def read_phys(self, phys: int, n: int) -> bytes:
        assert (phys & 0xFFF) + n <= 0x1000  # one page at a time
        return bytes(self.data[phys : phys + n])

    def write_phys(self, phys: int, data: bytes) -> None:
        assert (phys & 0xFFF) + len(data) <= 0x1000
        self.data[phys : phys + len(data)] = data


def _fw(machine: str = "pc", mem: int = 128 * MB) -> tuple[FwCfg, _Ram]:
    ram = _Ram()
    return FwCfg(fw_cfg_entries(mem, machine), ram), ram


def _read(fw: FwCfg, key: int, n: int) -> bytes:
    fw.write(0, 2, key)
    return bytes(fw.read(1, 1) for _ in range(n))


def test_signature_id_and_reading_past_the_end() -> None:
    fw, _ = _fw()
    assert _read(fw, 0x0000, 6) == b"QEMU\0\0"
    assert struct.unpack("<I", _read(fw, 0x0001, 4))[0] == 3  # traditional + DMA
    fw.write(0, 2, 0x0000)
    assert fw.read(0, 1) == ord("Q")  # a byte read of 0x510 reads data too
    assert fw.read(0, 2) == 0  # not a valid access
    assert _read(fw, 0x1234, 4) == b"\0" * 4  # a key nothing answers


def test_data_writes_are_ignored() -> None:
    fw, _ = _fw()
    fw.write(0, 2, 0x0003)
    fw.write(1, 1, 0x55)
    assert _read(fw, 0x0003, 8) == struct.pack("<Q", 128 * MB)


def test_cpu_counts_uuid_and_boot_menu() -> None:
    fw, _ = _fw()
    assert _read(fw, 0x0005, 2) == b"\x01\0"
    assert _read(fw, 0x000F, 2) == b"\x01\0"
    assert _read(fw, 0x0002, 16) == bytes(16)
    assert _read(fw, 0x000E, 2) == b"\0\0"


def test_file_directory_is_sorted_big_endian_with_keys_from_0x20() -> None:
    raw, keys = file_dir({"b": b"xy", "a": b""})
    assert raw[:4] == b"\0\0\0\x02"
    size, key, _, name = struct.unpack(">IHH56s", raw[4:68])
    assert (size, key, name.rstrip(b"\0")) == (0, 0x20, b"a")
    assert struct.unpack(">IH", raw[68:74]) == (2, 0x21) and keys == {0x20: b"", 0x21: b"xy"}


def _files(fw: FwCfg) -> dict[str, bytes]:
    raw = _read(fw, 0x0019, 4)
    count = struct.unpack(">I", raw)[0]
    entries = _read(fw, 0x0019, 4 + 64 * count)[4:]
    out = {}
    for i in range(count):
        size, key, _, name = struct.unpack(">IHH56s", entries[64 * i : 64 * i + 64])
        out[name.rstrip(b"\0").decode()] = _read(fw, key, size)
    return out


def test_files_on_pc_and_isapc() -> None:
    pc, isa = _files(_fw("pc")[0]), _files(_fw("isapc")[0])
    assert pc["etc/boot-fail-wait"] == b"\xff\xff\xff\xff"
    assert pc["etc/e820"] == bytes.fromhex("0000000000000000000000080000000001000000")
    assert pc["etc/system-states"] == bytes.fromhex("800000818280")
    assert "etc/system-states" not in isa  # the PIIX4's ACPI states: pc only
    assert set(pc) - set(isa) == {"etc/system-states"}


def test_e820_above_4g() -> None:
    table = e820_table(4096 * MB)
    assert struct.unpack("<QQIQQI", table) == (0, 0xC0000000, 1, 1 << 32, 0x40000000, 1)


def _dma(fw: FwCfg, ram: _Ram, control: int, length: int) -> int:
    ram.data[ACCESS : ACCESS + 16] = struct.pack(">IIQ", control, length, BUF)
    fw.dma.write(0, 4, 0)
    fw.dma.write(4, 4, int.from_bytes(ACCESS.to_bytes(4, "big"), "little"))  # guest's BE
    return int(struct.unpack(">I", ram.data[ACCESS : ACCESS + 4])[0])


def test_dma_signature_and_read() -> None:
    fw, ram = _fw()
    assert fw.dma.read(0, 4).to_bytes(4, "little") == b"QEMU"
    assert fw.dma.read(4, 4).to_bytes(4, "little") == b" CFG"
    assert _dma(fw, ram, DMA_SELECT | DMA_READ, 6) == 0
    assert ram.data[BUF : BUF + 6] == b"QEMU\0\0"  # past the end: zeros


def test_dma_skip_then_read_and_refused_write() -> None:
    fw, ram = _fw()
    ram.data[BUF : BUF + 4] = b"\xaa" * 4
    assert _dma(fw, ram, 0x0005 << 16 | DMA_SELECT | DMA_SKIP, 1) == 0
    assert _dma(fw, ram, DMA_READ, 1) == 0
    assert ram.data[BUF : BUF + 2] == b"\0\xaa"  # NB_CPUS's second byte
    assert _dma(fw, ram, 0x0005 << 16 | DMA_SELECT | DMA_WRITE, 2) == DMA_ERROR
    assert _dma(fw, ram, 0, 4) == 0  # no operation: nothing moves


def test_state_round_trip() -> None:
    a, _ = _fw()
    a.write(0, 2, 0x0000)
    a.read(1, 1)
    a.dma.write(0, 4, 0x01000000)  # the high half of an address: 1 << 32
    b, _ = _fw()
    b.restore(a.save())
    assert b.save() == a.save() and b.dma_address == 1 << 32
    assert bytes(b.read(1, 1) for _ in range(3)) == b"EMU"
    with pytest.raises(StateError, match="key"):
        b.restore(dataclasses.replace(a.save(), key=0x1234))
