"""The service registry, the boot services and the --stats counts."""

from __future__ import annotations

from bt.bios.api import BiosCall, BootAction, Outcome, Reboot, ServiceResult, Unsupported
from bt.bios.boot import RESET_VECTOR
from bt.bios.rom import load
from bt.bios.services import entry_services, reset_service, services
from bt.bios.stats import BiosCounter
from tests.biosmachine import RAM_SIZE, Machine


class Disk:
    def __call__(self, call: BiosCall) -> ServiceResult:
        call.cpu.set_reg("ah", 0)
        return Outcome.DONE


def test_every_rom_entry_has_a_service() -> None:
    table = services(RAM_SIZE, int13=Disk())
    assert set(table) == set(load().entries)
    assert table[0x13] is table[0x40]
    at = entry_services(RAM_SIZE)
    rom = load()
    markers = {*rom.entries.values(), *rom.continuations.values(), rom.reset_entry}
    assert {addr - 0xF0000 for addr in at} == markers
    assert all(rom.marker_at(addr - 0xF0000) for addr in at)
    assert at[0xFE82E][0] == 0x16 and at[0xFE05B][0] == RESET_VECTOR
    m = Machine()
    result = m.call(at[0xFE3FE][1], 0x13, ax=0x0200)
    assert isinstance(result, Unsupported) and result.what == "INT 13h AH=02h (no disks)"


def test_boot_services() -> None:
    m = Machine()
    table = services(RAM_SIZE)
    assert m.call(table[0x18], 0x18) == Reboot(0x18, BootAction.NO_BOOTABLE_DEVICE)
    assert m.call(table[0x19], 0x19) == Reboot(0x19, BootAction.BOOT)
    assert m.call(reset_service(), RESET_VECTOR) == Reboot(RESET_VECTOR, BootAction.RESET)
    result = m.call(table[0x17], 0x17, ax=0x0100)
    assert isinstance(result, Unsupported) and result.what == "INT 17h AH=01h (no printer)"


def test_counts_per_function() -> None:
    m = Machine()
    counter = BiosCounter()
    table = services(RAM_SIZE, counter=counter)
    m.call(table[0x10], 0x10, ax=0x0E41)
    m.call(table[0x10], 0x10, ax=0x0E42)
    m.call(table[0x10], 0x10, ax=0x0F00)  # AH changes to 80: counted as 0Fh
    m.call(table[0x08], 0x08)
    m.call(table[0x16], 0x16, ax=0x0000)  # empty: a wait, not a call
    m.call(table[0x15], 0x15, ax=0x5300)
    stats = counter.stats()
    assert stats.calls == ((0x08, None, 1), (0x10, 0x0E, 2), (0x10, 0x0F, 1))
    assert stats.unsupported == ((0x15, 0x53, "INT 15h AH=53h", 1),)
    assert stats.waits == 1
    assert stats.lines() == [
        "INT 08h: 1",
        "INT 10h AH=0Eh: 2",
        "INT 10h AH=0Fh: 1",
        "INT 15h AH=53h: 1 (not implemented)",
    ]
