"""PCI configuration mechanism 1 and bus 0's functions: the host's decoding, QEMU's write
masks, BAR sizing, the i440FX's PAM decode, the PIIX3's PIRQ routing and reset control, and
which machine type has PCI at all."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bt.devices.i440fx import (
    PAM_AT_ENTRY,
    i440fx,
    pam_access,
    pam_registers,
    read_only_segments,
)
from bt.devices.pcibus0 import pc_bus0
from bt.devices.pcifunction import Bar, Identity, PciFunction, config_space
from bt.devices.pcihost import PciHost
from bt.devices.piix3 import ResetControl, piix3_isa, pirq_irq
from bt.errors import StateError
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig

MB = 1 << 20
CF8, CFC = 0, 4  # offsets of CONFIG_ADDRESS and CONFIG_DATA in the host's range


def _bus0() -> tuple[PciHost, list[str]]:
    resets: list[str] = []
    return pc_bus0(128 * MB, lambda: resets.append("reset")), resets


def _cfg(host: PciHost, dev: int, fn: int, reg: int, size: int = 4) -> int:
    host.write(CF8, 4, 0x80000000 | dev << 11 | fn << 8 | (reg & 0xFC))
    return host.read(CFC + (reg & 3), size)


def _cfg_write(host: PciHost, dev: int, fn: int, reg: int, value: int, size: int = 4) -> None:
    host.write(CF8, 4, 0x80000000 | dev << 11 | fn << 8 | (reg & 0xFC))
    host.write(CFC + (reg & 3), size, value)


def test_config_address_takes_only_a_dword_write_and_reads_back_at_any_width() -> None:
    host, _ = _bus0()
    host.write(CF8, 4, 0x800000FF)
    assert host.read(CF8, 4) == 0x800000FF  # every bit kept, the low two as well
    host.write(CF8, 1, 0x12)  # QEMU drops a byte or word write of 0xCF8
    host.write(CF8 + 2, 2, 0x1234)
    assert host.read(CF8, 4) == 0x800000FF
    assert host.read(CF8 + 2, 2) == 0x00FF  # the register cut to the access, at any port
    assert host.read(CF8 + 3, 1) == 0xFF


def test_bus0_ids_as_qemu_pc_shows_them() -> None:
    host, _ = _bus0()
    ids = {(d, f): _cfg(host, d, f, 0) for d in range(32) for f in range(8)}
    present = {k: v for k, v in ids.items() if v != 0xFFFFFFFF}
    assert present == {
        (0, 0): 0x12378086,
        (1, 0): 0x70008086,
        (1, 1): 0x70108086,
        (1, 3): 0x71138086,
        (2, 0): 0x11111234,
    }
    assert _cfg(host, 1, 0, 0x0C) >> 16 & 0xFF == 0x80  # the PIIX3 is multi-function
    assert _cfg(host, 1, 1, 0x08) == 0x01018000  # IDE, prog-if 0x80 (legacy, bus master)


def test_no_cycle_without_the_enable_bit_nor_on_another_bus() -> None:
    host, _ = _bus0()
    host.write(CF8, 4, 0x00000000)
    assert host.read(CFC, 4) == 0xFFFFFFFF
    host.write(CF8, 4, 0x80010000)  # bus 1 does not exist
    assert host.read(CFC, 2) == 0xFFFF
    host.write(CFC, 4, 0)  # dropped, and nothing else changed
    assert _cfg(host, 0, 0, 0) == 0x12378086


def test_byte_and_word_data_ports_read_the_bytes_at_their_offset() -> None:
    host, _ = _bus0()
    host.write(CF8, 4, 0x80000000)
    assert [host.read(CFC + i, 1) for i in range(4)] == [0x86, 0x80, 0x37, 0x12]
    assert host.read(CFC + 2, 2) == 0x1237
    host.write(CF8, 4, 0x800000FC)
    assert host.read(CFC + 2, 4) == _cfg(host, 0, 0, 0xFC) >> 16  # cut at byte 255


def test_write_masks_follow_qemu() -> None:
    host, _ = _bus0()
    _cfg_write(host, 1, 0, 0x00, 0)  # IDs: read-only
    assert _cfg(host, 1, 0, 0x00) == 0x70008086
    _cfg_write(host, 1, 0, 0x04, 0xFFFFFFFF)  # command: I/O, memory, master, SERR, INTx off
    assert _cfg(host, 1, 0, 0x04) == 0x02000507  # status DEVSEL medium stays, W1C bits 0
    _cfg_write(host, 1, 3, 0x3C, 0xFFFFFFFF)  # interrupt line writable, pin and grant not
    assert _cfg(host, 1, 3, 0x3C) == 0x000001FF
    _cfg_write(host, 1, 0, 0x60, 0x80808080)  # the device-specific bytes are all writable
    assert _cfg(host, 1, 0, 0x60) == 0x80808080


def test_status_bits_clear_by_writing_ones() -> None:
    fn = PciFunction("t", config_space(Identity(0x8086, 0x1234, 0, 0x068000, status=0x2280)))
    fn.write(0x06, 2, 0x2000)  # received master abort: write 1 to clear
    assert fn.read(0x06, 2) == 0x0280


@pytest.mark.parametrize(
    ("dev", "fn", "reg", "sized"),
    [
        (1, 1, 0x20, 0xFFFFFFF1),  # PIIX3 IDE bus-master registers: 16 bytes of I/O
        (2, 0, 0x10, 0xFF000008),  # VGA framebuffer: 16 MiB, prefetchable
        (2, 0, 0x18, 0xFFFFF000),  # VGA MMIO: 4 KiB
        (2, 0, 0x30, 0xFFFF0001),  # VGA ROM: 64 KiB, its enable bit writable
        (1, 1, 0x10, 0x00000000),  # legacy mode: BAR0 absent
    ],
)
def test_bar_sizing(dev: int, fn: int, reg: int, sized: int) -> None:
    host, _ = _bus0()
    before = _cfg(host, dev, fn, reg)
    _cfg_write(host, dev, fn, reg, 0xFFFFFFFF)
    assert _cfg(host, dev, fn, reg) == sized
    _cfg_write(host, dev, fn, reg, before)
    assert _cfg(host, dev, fn, reg) == before


def test_bar_mask_keeps_type_bits() -> None:
    bar = Bar(0x14, 256, kind=0x01)
    fn = PciFunction("t", config_space(Identity(1, 2, 0, 0), (bar,)), (bar,))
    fn.write(0x14, 4, 0x0000D0FF)
    assert fn.read(0x14, 4) == 0x0000D001


def test_i440fx_ram_size_register_and_pam_decode() -> None:
    assert i440fx(128 * MB).byte(0x57) == 0x10  # 8 MiB units
    assert i440fx(4095 * MB).byte(0x57) == 0xFF  # at most 255
    assert pam_registers(i440fx(128 * MB)) == PAM_AT_ENTRY
    pam = bytes((0x30, 0x21, 0, 0, 0, 0, 0x03))
    assert pam_access(pam, 0xF0000) == 3 and pam_access(pam, 0xFFFFF) == 3
    assert pam_access(pam, 0xC0000) == 1  # PAM1 low nibble: C0000-C3FFF
    assert pam_access(pam, 0xC4000) == 2  # PAM1 high nibble: C4000-C7FFF
    assert pam_access(pam, 0xE8000) == 3 and pam_access(pam, 0xEC000) == 0


def test_pirq_routing_as_seabios_leaves_it() -> None:
    fn = piix3_isa()
    assert [pirq_irq(fn, p) for p in range(4)] == [10, 10, 11, 11]
    fn.write(0x61, 1, 0x80)
    assert pirq_irq(fn, 1) is None  # bit 7: routing disabled


def test_reset_control_register() -> None:
    resets: list[int] = []
    rcr = ResetControl(lambda: resets.append(1))
    rcr.write(0, 1, 0x02 | 0x08)
    assert rcr.read(0, 1) == 0x02 and not resets  # only SRST is kept
    rcr.write(0, 1, 0x04)
    assert resets == [1] and rcr.read(0, 1) == 0x02


def test_port_cf9_is_reset_control_inside_the_config_range() -> None:
    host, resets = _bus0()
    host.write(CF8, 4, 0x80000000)
    host.write(1, 1, 0x02)
    assert host.read(1, 1) == 0x02
    assert host.read(CF8, 4) == 0x80000000  # the address register did not see it
    host.write(1, 1, 0x06)
    assert resets == ["reset"]


def _machine(tmp_path: Path, code: bytes, kind: str) -> Machine:
    path = tmp_path / "guest.bin"
    path.write_bytes(code)
    image = load_guest(str(path), 16 * MB, "", 0x100000, None)
    return Machine(MachineConfig(16 * MB, machine=kind), image, lambda _b: None)


def test_isapc_has_no_pci_and_pc_does(tmp_path: Path) -> None:
    hlt = b"\xf4"
    isa, pc = _machine(tmp_path, hlt, "isapc"), _machine(tmp_path, hlt, "pc")
    assert isa.board.pci is None and pc.board.pci is not None
    isa.io.write(0xCF8, 4, 0x80000000)
    pc.io.write(0xCF8, 4, 0x80000000)
    assert isa.io.read(0xCF8, 4) == 0xFFFFFFFF and isa.io.read(0xCFC, 4) == 0xFFFFFFFF
    assert pc.io.read(0xCFC, 4) == 0x12378086
    names = {r.name for r in isa.io.ranges()}
    assert "fw_cfg" in names and "pci-config" not in names  # QEMU's isapc has fw_cfg too


def test_a_write_of_6_to_port_cf9_resets_the_machine(tmp_path: Path) -> None:
    # mov dx, 0xcf9; mov al, 6; out dx, al; hlt
    code = bytes.fromhex("66baf90cb006eef4")
    result = _machine(tmp_path, code, "pc").run(max_insns=100)
    assert (result.status, result.message) == (0, "guest reset the machine through port 0xCF9")
    assert result.eip == 0x100006  # stopped after the OUT, as the i8042's reset does
    result = _machine(tmp_path, code, "isapc").run(max_insns=100)
    assert result.kind == "halt"  # no PIIX3 on isapc: the write goes nowhere


def test_state_round_trip_and_refusals() -> None:
    a, _ = _bus0()
    _cfg_write(a, 1, 0, 0x60, 0x80808080)
    _cfg_write(a, 2, 0, 0x10, 0xFFFFFFFF)
    a.write(1, 1, 0x02)  # reset control's SRST
    a.write(CF8, 4, 0x80000810)
    b, _ = _bus0()
    b.restore(a.save())
    assert b.save() == a.save() and b.read(CF8, 4) == 0x80000810
    assert _cfg(b, 1, 0, 0x60) == 0x80808080 and _cfg(b, 2, 0, 0x10) == 0xFF000008
    assert b.read(1, 1) == 0x02
    state = a.save()
    with pytest.raises(StateError, match="functions"):
        b.restore(dataclasses.replace(state, spaces=state.spaces[:-1]))
    with pytest.raises(StateError, match="256"):
        b.restore(dataclasses.replace(state, spaces=((0, b"\0"), *state.spaces[1:])))


def test_pam_registers_decide_which_shadow_segments_take_writes(tmp_path: Path) -> None:
    pc, isa = _machine(tmp_path, b"\xf4", "pc"), _machine(tmp_path, b"\xf4", "isapc")
    assert read_only_segments(PAM_AT_ENTRY) == 0b1111_0011_1111_1111  # E8000-EFFFF writable
    for addr in (0xC0000, 0xE4000, 0xF0000, 0xFFFF0):
        assert pc.engine.view.is_rom(addr) and not isa.engine.view.is_rom(addr), hex(addr)
    assert not pc.engine.view.is_rom(0xE8000)
    pc.memory.write_phys(0xC0000, b"\x5a")
    assert pc.memory.read_phys(0xC0000, 1) == b"\0"  # dropped
    pc.io.write(0xCF8, 4, 0x80000058)
    pc.io.write(0xCFE, 1, 0x33)  # PAM1: C0000-C7FFF read and write RAM
    pc.memory.write_phys(0xC0000, b"\x5a")
    assert pc.memory.read_phys(0xC0000, 1) == b"\x5a"
    pc.io.write(0xCFE, 1, 0x11)  # read-only again: the next write is dropped
    pc.memory.write_phys(0xC0000, b"\x00")
    assert pc.memory.read_phys(0xC0000, 1) == b"\x5a"
