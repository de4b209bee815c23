"""The PCI BIOS of the built-in BIOS: guests/pcibios.asm (INT 1Ah AH=B1h in real mode) and
guests/pcibios32.asm (the BIOS32 directory and the 32-bit entry, far-called through paging),
booted from a floppy, print what they print under QEMU + SeaBIOS on pc and on isapc; the
service's answers unit by unit (function codes, carry, the routing table's buffer rules), the
headers and tables written into the ROM image."""

from __future__ import annotations

import struct

import pytest
from test_guests import EXPECTED, run_bt

from bt.bios.api import BiosCall, Outcome
from bt.bios.pcibios import (
    BUFFER_TOO_SMALL,
    DEVICE_NOT_FOUND,
    FUNC_NOT_SUPPORTED,
    PciBios,
    TimeOfDayAndPci,
    pir_slots,
)
from bt.bios.pcibios32 import LAYOUTS, Bios32Directory, bios32_header, pir_table, rom_image
from bt.bios.rom import ROM_BASE, load
from bt.bus import Bus
from bt.devices.pcibus0 import pc_bus0
from bt.devices.pcihost import ADDRESS_PORT, PORTS
from bt.errors import InternalError

INSNS = "300000"  # the guest runs about 23,000 instructions


@pytest.mark.parametrize("name", ["pcibios", "pcibios@isapc", "pcibios32", "pcibios32@isapc"])
def test_pcibios_guest_matches_qemu(name: str) -> None:
    guest, _, machine = name.partition("@")
    args = ["--machine", machine] if machine else []
    proc = run_bt("run", f"{guest}.img", *args, "--max-insns", INSNS)
    assert proc.stderr == b""
    assert proc.stdout == (EXPECTED / f"{name}.serial").read_bytes()
    assert proc.returncode == int((EXPECTED / f"{name}.status").read_text())


class _Cpu:
    def __init__(self, **regs: int) -> None:
        self.regs = {"eax": 0, "ebx": 0, "ecx": 0, "edx": 0, "esi": 0, "edi": 0} | regs
        self.cf = False

    def reg(self, name: str) -> int:
        full = {"ax": "eax", "bx": "ebx", "cx": "ecx", "dx": "edx", "si": "esi", "di": "edi"}
        if name in self.regs:
            return self.regs[name]
        if name in full:
            return self.regs[full[name]] & 0xFFFF
        base = "e" + name[0] + "x"
        return (self.regs[base] >> (8 if name[1] == "h" else 0)) & 0xFF

    def set_reg(self, name: str, value: int) -> None:
        if name in self.regs:
            self.regs[name] = value
        elif name[1] in "hl":
            base, shift = "e" + name[0] + "x", 8 if name[1] == "h" else 0
            self.regs[base] = (self.regs[base] & ~(0xFF << shift)) | (value & 0xFF) << shift
        else:
            base = "e" + name
            self.regs[base] = (self.regs[base] & ~0xFFFF) | (value & 0xFFFF)

    def seg(self, name: str) -> int:
        return 0

    def set_seg(self, name: str, selector: int) -> None:
        raise AssertionError("the PCI BIOS loads no segment")

    def linear(self, seg: str, offset: int) -> int:
        return offset & 0xFFFF

    def flag(self, name: str) -> bool:
        return self.cf

    def set_flag(self, name: str, value: bool) -> None:
        assert name == "cf"
        self.cf = value


class _Ram:
    def __init__(self) -> None:
        self.data = bytearray(0x10000)

    def read_phys(self, phys: int, n: int) -> bytes:
        return bytes(self.data[phys : phys + n])

    def write_phys(self, phys: int, data: bytes) -> None:
        self.data[phys : phys + len(data)] = data


def _call(pci: bool, ram: _Ram | None = None, **regs: int) -> _Cpu:
    bus = Bus()
    if pci:
        bus.register(ADDRESS_PORT, PORTS, pc_bus0(128 << 20, lambda: None), "pci")
    cpu = _Cpu(**regs)
    got = PciBios("pc" if pci else "isapc")(BiosCall(0x1A, cpu, ram or _Ram(), bus, 0))
    assert got is Outcome.DONE
    return cpu


def test_installation_check() -> None:
    cpu = _call(True, eax=0xB101)
    assert cpu.reg("ax") == 0x0001 and cpu.reg("bx") == 0x0210 and not cpu.cf
    assert cpu.reg("edx") == 0x20494350 and cpu.reg("cl") == 0
    assert cpu.reg("edi") == 0xFD1CA  # SeaBIOS 1.16.2's 32-bit entry on pc
    assert _call(False, eax=0xB101).reg("edi") == 0xFD30A  # and on isapc


def test_find_device_counts_matches_and_fails_on_isapc() -> None:
    assert _call(True, eax=0xB102, ecx=0x7113, edx=0x8086).reg("bx") == 0x000B
    cpu = _call(True, eax=0xB102, ecx=0x7113, edx=0x8086, esi=1)
    assert cpu.reg("ah") == DEVICE_NOT_FOUND and cpu.cf
    cpu = _call(False, eax=0xB102, ecx=0x1237, edx=0x8086)
    assert cpu.reg("ah") == DEVICE_NOT_FOUND and cpu.cf


def test_find_class_compares_class_and_prog_if() -> None:
    assert _call(True, eax=0xB103, ecx=0x060100).reg("bx") == 0x0008
    assert _call(True, eax=0xB103, ecx=0x068000).reg("bx") == 0x000B
    assert _call(True, eax=0xB103, ecx=0x010100).cf  # IDE but prog-if 0x80


def test_config_reads_at_each_width() -> None:
    assert _call(True, eax=0xB108, ebx=0x0008, edi=0x0E).reg("cl") == 0x80
    assert _call(True, eax=0xB109, ebx=0x0000, edi=0x02).reg("cx") == 0x1237
    assert _call(True, eax=0xB10A, ebx=0x0009, edi=0x20).reg("ecx") == 0xC001
    assert _call(False, eax=0xB10A, ebx=0x0000, edi=0x00).reg("ecx") == 0xFFFFFFFF


def test_unknown_function() -> None:
    cpu = _call(True, eax=0xB107)
    assert cpu.reg("ah") == FUNC_NOT_SUPPORTED and cpu.cf


def test_routing_options_buffer_rules() -> None:
    ram = _Ram()
    ram.data[0x500:0x506] = struct.pack("<HHH", 95, 0x600, 0)
    cpu = _call(True, ram, eax=0xB10E, edi=0x500)
    assert cpu.reg("ah") == BUFFER_TOO_SMALL and cpu.cf
    assert ram.data[0x500:0x502] == b"\x60\x00"  # the size it needs
    cpu = _call(True, ram, eax=0xB10E, edi=0x500, ebx=0x1234)
    assert not cpu.cf and cpu.reg("bx") == 0  # no exclusive IRQs
    assert bytes(ram.data[0x600:0x660]) == pir_slots()
    assert pir_slots()[:16] == bytes.fromhex("000860F8DE61F8DE62F8DE63F8DE0000")


def test_int1a_sends_only_ah_b1_to_the_pci_bios() -> None:
    seen: list[int] = []

    def clock(call: BiosCall) -> Outcome:
        seen.append(call.cpu.reg("ah"))
        return Outcome.DONE

    service = TimeOfDayAndPci(clock, PciBios("pc"))
    cpu = _Cpu(eax=0x0200)
    service(BiosCall(0x1A, cpu, _Ram(), Bus(), 0))
    assert seen == [0x02]
    cpu = _Cpu(eax=0xB101)
    service(BiosCall(0x1A, cpu, _Ram(), Bus(), 0))
    assert seen == [0x02] and cpu.reg("bx") == 0x0210


def test_bios32_header_and_pir_table_as_seabios_writes_them() -> None:
    header = bios32_header(0xFD26C)
    assert header == bytes.fromhex("5f33325f6cd20f0000018f0000000000")  # QEMU's pc, F6040
    assert pir_table()[:32] == bytes.fromhex(
        "24504952000180000008000086802e1200000000000000000000000000000037"
    )
    assert sum(pir_table()) & 0xFF == 0


@pytest.mark.parametrize("machine", ["pc", "isapc"])
def test_rom_image_places_the_machines_tables_only(machine: str) -> None:
    image = rom_image(load().image, machine)
    assert sum(image) & 0xFF == 0
    found = [ROM_BASE + i for i in range(0, len(image), 16) if image[i : i + 4] == b"_32_"]
    assert found == [LAYOUTS[machine].bios32_header]
    assert image.count(b"$PIR") == 1
    with pytest.raises(InternalError, match="not free"):
        rom_image(image, machine)  # never over what is already there


def test_bios32_directory_knows_only_pci() -> None:
    cpu = _Cpu(eax=0x5A59_5824)  # "$XYZ"
    Bios32Directory("pc")(BiosCall(0, cpu, _Ram(), Bus(), 0))
    assert cpu.reg("al") == 0x80 and cpu.reg("ebx") == 0
