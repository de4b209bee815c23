"""The fw_cfg entries QEMU 7.2 offers on pc and isapc that this machine can offer truthfully."""

from __future__ import annotations

import struct

from bt.devices.fwcfg import file_dir

SIGNATURE = 0x00
ID = 0x01
UUID = 0x02
RAM_SIZE = 0x03
NOGRAPHIC = 0x04
NB_CPUS = 0x05
NUMA = 0x0D
BOOT_MENU = 0x0E
MAX_CPUS = 0x0F
FILE_DIR = 0x19
ID_TRADITIONAL = 0x01  # the selector and data ports
ID_DMA = 0x02  # the DMA interface at 0x514
E820_RAM = 1
BELOW_4G_MAX = 0xE0000000  # QEMU's pc: RAM below 4 GiB up to 3.5 GiB...
BELOW_4G_ALIGNED = 0xC0000000  # ...or to 3 GiB (gigabyte-aligned) when there is more
# etc/system-states: S0-S5, bit 7 "described", the low bits the _Sx value (PIIX4 PM's S3 1,
# S4 2): QEMU's piix4_pm on pc only.
SYSTEM_STATES = bytes((0x80, 0x00, 0x00, 0x81, 0x82, 0x80))


def e820_table(mem_size: int) -> bytes:
    """etc/e820: QEMU's RAM map (not the BIOS's INT 15h E820 list): packed {u64 address, u64
    length, u32 type} entries, RAM below 4 GiB and, for more RAM, the rest from 4 GiB."""
    below = mem_size if mem_size < BELOW_4G_MAX else min(mem_size, BELOW_4G_ALIGNED)
    out = struct.pack("<QQI", 0, below, E820_RAM)
    if mem_size > below:
        out += struct.pack("<QQI", 1 << 32, mem_size - below, E820_RAM)
    return out


def fw_cfg_entries(mem_size: int, machine: str) -> dict[int, bytes]:
    """Every key's contents for a one-CPU machine of `mem_size` bytes ("pc" or "isapc").

    Left out, since nothing here can stand behind them: the Multiboot and Linux loader keys
    (0x07-0x0B, 0x10-0x18: QEMU's option ROM loads the kernel from them; here the monitor loads
    it), the arch-local keys from 0x8000 (legacy ACPI/SMBIOS/E820 tables, IRQ0 override, HPET),
    and the files etc/acpi/*, etc/smbios/*, etc/table-loader, etc/tpm/log, genroms/* and
    vgaroms/* (QEMU's own tables and ROM images).
    """
    files = {
        "bios-geometry": b"",  # no disk with a geometry set by the user
        "bootorder": b"",  # no device with a boot index
        "etc/boot-fail-wait": struct.pack("<i", -1),  # -boot reboot-timeout: never
        "etc/e820": e820_table(mem_size),
    }
    if machine == "pc":
        files["etc/system-states"] = SYSTEM_STATES
    directory, file_keys = file_dir(files)
    entries = {
        SIGNATURE: b"QEMU",
        ID: struct.pack("<I", ID_TRADITIONAL | ID_DMA),
        UUID: bytes(16),
        RAM_SIZE: struct.pack("<Q", mem_size),
        NOGRAPHIC: struct.pack("<H", 0),
        NB_CPUS: struct.pack("<H", 1),
        NUMA: bytes(16),  # no NUMA nodes: the count and one CPU's node, both 0
        BOOT_MENU: struct.pack("<H", 0),
        MAX_CPUS: struct.pack("<H", 1),
        FILE_DIR: directory,
    }
    entries |= file_keys
    return entries
