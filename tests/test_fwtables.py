"""The firmware tables (bt/bios/fwtables.py): checksums, lengths and entries as SeaBIOS writes
them, their place in the ROM, and guests/fwtables.asm on isapc equal to QEMU's (the pc run is
tests/test_guests.py's)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from limits import limit_args
from test_guests import run_bt
from unicorn import UC_ARCH_X86, UC_MODE_16, Uc
from unicorn import x86_const as x86

from bt.bios import acpi, mptable, smbios
from bt.bios.biosdrive import BiosDrive
from bt.bios.fwtables import firmware_tables, multiboot_chunks, ram_tables, rom_with_tables
from bt.bios.pnpbios import pnp_header
from bt.bios.rom import ROM_BASE, load
from bt.bios.tableinfo import Platform, checksum
from bt.bootplan import BootPlan
from bt.errors import InternalError
from bt.machine import MachineConfig
from bt.pcboot import pc_boot

EXPECTED = Path(__file__).resolve().parent.parent / "guests" / "expected"
MIB = 1 << 20
PC = Platform("pc", 128 * MIB, 0x663, 0x0781ABFD, True)  # qemu32
ISAPC = Platform("isapc", 128 * MIB, 0x480, 0x9, False)  # 486, isapc's default CPU


def _entries(config: bytes) -> list[bytes]:
    out, at = [], 44
    while at < len(config):
        size = 20 if config[at] == 0 else 8
        out.append(config[at : at + size])
        at += size
    return out


def test_mp_floating_pointer_points_at_its_config_table() -> None:
    at, data = mptable.mp_table(PC)
    assert at == 0xF5BA0 and at % 16 == 0
    assert data[:4] == b"_MP_" and sum(data[:16]) % 256 == 0
    assert struct.unpack_from("<I", data, 4)[0] == at + 16
    config = data[16:]
    assert config[:4] == b"PCMP" and sum(config) % 256 == 0
    assert struct.unpack_from("<H", config, 4)[0] == len(config) == 200
    assert config[8:16] == b"BOCHSCPU"


def test_mp_entries_pc_and_isapc() -> None:
    pc = _entries(mptable.config_table(PC))
    assert struct.unpack_from("<H", mptable.config_table(PC), 34)[0] == len(pc) == 18
    assert pc[0] == bytes.fromhex("0000140363060000fdab81070000000000000000")
    assert pc[1][2:8] == b"PCI   " and pc[2][2:8] == b"ISA   "
    assert pc[3] == bytes.fromhex("020011010000c0fe")  # IOAPIC id 0, version 0x11, enabled
    isa = [e for e in pc if e[0] == 3 and e[4] == 1]
    assert [(e[5], e[7]) for e in isa][:2] == [(0, 2), (1, 1)]  # IRQ 0 on pin 2, no IRQ 2
    assert {e[5] for e in isa}.isdisjoint({2, 5, 9, 10, 11})
    isapc = _entries(mptable.config_table(ISAPC))
    assert len(isapc) == 16 and isapc[0][2:4] == b"\x00\x02"  # no APIC: version 0, BSP only
    assert isapc[1][2:8] == b"ISA   " and isapc[1][1] == 0
    assert isapc[2] == pc[3]  # SeaBIOS describes the IOAPIC on isapc too


def test_acpi_rsdp_rsdt_madt() -> None:
    (rsdp_at, rsdp), (madt_at, madt), (rsdt_at, rsdt) = acpi.acpi_tables(PC, 0xF59F0)
    assert rsdp_at == 0xF59D0 and rsdp[:8] == b"RSD PTR " and checksum(rsdp) == 0
    zone = 128 * MIB - 128 * 1024
    assert (madt_at, rsdt_at) == (zone + 0x1A00, zone + 0x1AD8)
    assert struct.unpack_from("<I", rsdp, 16)[0] == rsdt_at
    for table in (madt, rsdt):
        assert checksum(table) == 0 and struct.unpack_from("<I", table, 4)[0] == len(table)
    assert struct.unpack_from("<I", rsdt, 36)[0] == madt_at and len(rsdt) == 40
    assert madt[:4] == b"APIC" and len(madt) == 120
    assert struct.unpack_from("<II", madt, 36) == (0xFEE00000, 1)
    overrides = [madt[at : at + 10] for at in range(64, 64 + 50, 10)]
    assert overrides[0] == bytes.fromhex("020a0000020000000000")  # IRQ 0 -> GSI 2
    assert overrides[2] == bytes.fromhex("020a0009090000000d00")  # IRQ 9 level, high
    assert madt[-6:] == bytes.fromhex("0406ff000001")  # NMI on LINT1 of every CPU
    assert acpi.acpi_tables(ISAPC, 0xF6800) == ()


def _structures(table: bytes) -> list[tuple[int, list[bytes], int]]:
    """(type, strings, bytes with the strings) of each structure."""
    out, at = [], 0
    while at < len(table):
        kind, size = table[at], table[at + 1]
        end = table.index(b"\0\0", at + size)
        strings = table[at + size : end].split(b"\0") if end > at + size else []
        out.append((kind, [s for s in strings if s], end + 2 - at))
        at = end + 2
    return out


@pytest.mark.parametrize(
    ("platform", "version", "vendor", "product", "at"),
    [
        (PC, (2, 8), b"SeaBIOS", b"Standard PC (i440FX + PIIX, 1996)", 0xF59F0),
        (ISAPC, (2, 4), b"Bochs", b"Bochs", 0xF6800),
    ],
)
def test_smbios(
    platform: Platform, version: tuple[int, int], vendor: bytes, product: bytes, at: int
) -> None:
    below = mptable.float_address(platform)
    (entry_at, entry), (table_at, table) = smbios.smbios_tables(platform, below)
    assert entry_at == at and table_at == at + 32 and table_at + len(table) <= below
    assert entry[:4] == b"_SM_" and len(entry) == entry[5] == 31 and checksum(entry) == 0
    assert entry[16:21] == b"_DMI_" and checksum(entry[16:]) == 0
    assert (entry[6], entry[7]) == version
    length, addr, count = struct.unpack_from("<HIH", entry, 0x16)
    assert (length, addr) == (len(table), table_at)
    found = _structures(table)
    assert len(found) == count and found[-1][0] == 127
    kinds = {kind: strings for kind, strings, _ in found}
    assert kinds[0][0] == vendor and kinds[1][1] == product
    assert struct.unpack_from("<H", entry, 8)[0] == max(size for _, _, size in found)


def test_smbios_memory_follows_ram() -> None:
    """pc at -m 3584 (measured): 3 GiB below 4 GiB and 512 MiB above, so two mapped ranges,
    a longer table and the entry point and RSDP 32 bytes lower than at -m 128."""
    big = Platform("pc", 3584 * MIB, 0x663, 0x0781ABFD, True)
    (entry_at, _), (table_at, table) = smbios.smbios_tables(big, mptable.FLOAT_PC)
    assert (entry_at, table_at, len(table)) == (0xF59D0, 0xF59F0, 421)
    found = _structures(table)
    assert [k for k, _, _ in found].count(19) == 2
    assert acpi.acpi_tables(big, entry_at)[0][0] == 0xF59B0


def test_pnp_header_points_at_rom_code() -> None:
    rom = load()
    for platform, at, prot in ((PC, 0xF6060, 0xD10F), (ISAPC, 0xF6DD0, 0xD24F)):
        addr, header = pnp_header(platform, rom)
        assert addr == at and header[:4] == b"$PnP" and len(header) == header[5] == 0x21
        assert checksum(header) == 0
        real_ip, real_cs, prot_ip, prot_base = struct.unpack_from("<HHHI", header, 0x0D)
        assert (real_cs, prot_ip, prot_base) == (0xF000, prot, 0xF0000)
        for entry in (real_ip, prot_ip):
            assert rom.image[entry] == 0xE9  # a near jump to the ROM's answer


def test_tables_go_into_the_rom_free_space_and_ram() -> None:
    rom = load()
    tables = firmware_tables(PC, rom)
    image = rom_with_tables(rom, tables)
    for addr, data in tables:
        if ROM_BASE <= addr < ROM_BASE + 0x10000:
            assert image[addr - ROM_BASE : addr - ROM_BASE + len(data)] == data
    assert [a for a, _ in ram_tables(tables)] == [0x7FE1A00, 0x7FE1AD8]
    assert image[:6] == rom.image[:6]  # the ROM's own table is untouched
    with pytest.raises(InternalError, match="overlaps the ROM's code"):
        rom_with_tables(rom, ((ROM_BASE, b"_MP_"),))
    assert multiboot_chunks(Platform("pc", MIB, 0x663, 0, True), rom) == ()


def test_isapc_guest_matches_qemu() -> None:
    proc = run_bt(
        "run", "fwtables.elf", "--machine", "isapc", "--cpu", "486", *limit_args("fwtables")
    )
    assert proc.stderr == b""
    assert proc.stdout == (EXPECTED / "isapc" / "fwtables.serial").read_bytes()
    assert proc.returncode == int((EXPECTED / "isapc" / "fwtables.status").read_text())


@pytest.mark.parametrize("entry", [0xD113, 0xD253])
@pytest.mark.parametrize(("function", "ax", "version"), [(0x60, 0, 0x0101), (0x00, 0x82, 0)])
def test_pnp_real_mode_entry(entry: int, function: int, ax: int, version: int) -> None:
    """The real-mode entry run on Unicorn: a far call with the function and a far pointer."""
    uc = Uc(UC_ARCH_X86, UC_MODE_16)
    uc.mem_map(0, 0x100000)
    uc.mem_write(ROM_BASE, load().image)
    ret, version_at, sp = 0x0700, 0x0800, 0x7000 - 10
    uc.mem_write(sp, struct.pack("<5H", ret, 0, function, version_at, 0))  # IP, CS, args
    uc.reg_write(x86.UC_X86_REG_SS, 0)
    uc.reg_write(x86.UC_X86_REG_ESP, sp)
    uc.reg_write(x86.UC_X86_REG_CS, 0xF000)
    uc.emu_start(ROM_BASE + entry, ret, count=100)
    assert uc.reg_read(x86.UC_X86_REG_AX) == ax
    assert int.from_bytes(uc.mem_read(version_at, 2), "little") == version
    assert uc.reg_read(x86.UC_X86_REG_SP) == sp + 4  # RETF: the caller pops its arguments


@pytest.mark.parametrize(("machine", "mp_at"), [("pc", 0xF5BA0), ("isapc", 0xF6930)])
def test_disk_boot_finds_the_tables(machine: str, mp_at: int) -> None:
    """The built-in BIOS's machine (bt/pcboot.py) has them in its ROM and RAM."""
    sector = bytes(510) + b"\x55\xaa"
    plan = BootPlan({0: BiosDrive(None, 0)}, 0, sector, 0)
    boot = pc_boot(MachineConfig(128 * MIB, machine=machine), plan, lambda _data: None)
    mem = boot.machine.memory
    assert mem.read_phys(mp_at, 4) == b"_MP_"
    assert (mem.read_phys(0x7FE1A00, 4) == b"APIC") is (machine == "pc")
    assert (mem.read_phys(0xF59D0, 8) == b"RSD PTR ") is (machine == "pc")
