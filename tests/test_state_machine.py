"""The vCPU, the clocks and the TSC round-trip through their state records, and a running
guest's whole machine state restores into a fresh Machine (bt/machine_state.py)."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import pytest

from bt.devices.irqline import IrqLine
from bt.devices.pic8259 import PicPair
from bt.errors import StateError
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig
from bt.machine_state import MachineState
from bt.timebase import HostClock, HostClockState, TimeStampCounter, VirtualClock
from bt.vcpu import SEG_NAMES, SegmentCache, SegmentState, Vcpu, VcpuState

BIN = Path(__file__).resolve().parent.parent / "guests" / "bin"
MEM = 16 << 20


def busy_vcpu() -> Vcpu:
    """A vCPU with every field away from its default."""
    segs = {
        n: SegmentCache(0x10 + 8 * i + 3, 0x1000 * i, 0xFFFFF, 0x00CFF300)
        for i, n in enumerate(SEG_NAMES)
    }
    segs["cs"] = SegmentCache(0x0B, 0x400000, 0xFFFFFFFF, 0x00CFFB00)
    return Vcpu(
        segs=segs,
        eflags_sys=0x3202,
        cr0=0x80000011,
        cr2=0xDEADB000,
        cr3=0x9000,
        cr4=0x10,
        gdtr=(0x8000, 0x3F),
        idtr=(0x9000, 0x7FF),
        ldtr=SegmentCache(0x28, 0x7000, 0x1F, 0x8200),
        tr=SegmentCache(0x30, 0x6000, 0x67, 0x8B00),
        dr=[1, 2, 3, 4, 0xFFFF0FF1, 0x400, 0xFFFF4FF0, 0x455],
        msrs={0x176: 0xC0001000, 0x174: 0x08},
        halted=True,
        shadow_eip=0x400123,
    )


def test_vcpu_round_trip() -> None:
    a = busy_vcpu()
    state = a.save()
    b = Vcpu(
        segs={n: SegmentCache(0, 0, 0xFFFF, 0x9300) for n in SEG_NAMES}, eflags_sys=0, cr0=0x11
    )
    segs, dr, msrs = b.segs, b.dr, b.msrs
    assert b.save() != state
    b.restore(state)
    assert b.save() == state
    assert (b.segs, b.dr, b.msrs) == (a.segs, a.dr, a.msrs)
    assert b.segs is segs and b.dr is dr and b.msrs is msrs  # in place: others hold them
    for name in (
        "eflags_sys",
        "cr0",
        "cr2",
        "cr3",
        "cr4",
        "gdtr",
        "idtr",
        "ldtr",
        "tr",
        "halted",
        "shadow_eip",
        "cpl",
        "iopl",
        "interrupts_enabled",
    ):
        assert getattr(b, name) == getattr(a, name), name
    assert (b.cpl, b.code32(), b.eflags(0x8D5)) == (3, True, 0x3AD7)
    assert state.msrs == ((0x174, 0x08), (0x176, 0xC0001000))  # sorted: equal states compare
    assert pickle.loads(pickle.dumps(state)) == state
    json.dumps(dataclasses.asdict(state))  # plain data: the snapshot issue can write it


def test_every_vcpu_field_is_in_its_record() -> None:
    held = {f.name for f in dataclasses.fields(Vcpu)}
    saved = {f.name for f in dataclasses.fields(VcpuState)} - {"version"}
    assert held == saved
    assert {f.name for f in dataclasses.fields(SegmentState)} - {"version"} == set(
        SegmentCache.__slots__
    )


def test_vcpu_restore_refuses_wrong_records() -> None:
    v = busy_vcpu()
    before = v.save()
    with pytest.raises(StateError, match="vcpu: VcpuState version 7, this bt reads 1"):
        v.restore(dataclasses.replace(before, version=7))
    with pytest.raises(StateError, match=r"vcpu\.ldtr: SegmentState version 0"):
        v.restore(dataclasses.replace(before, ldtr=dataclasses.replace(before.ldtr, version=0)))
    with pytest.raises(StateError, match="5 segments"):
        v.restore(dataclasses.replace(before, segs=before.segs[:5]))
    with pytest.raises(StateError, match="7 debug registers"):
        v.restore(dataclasses.replace(before, dr=before.dr[:7]))
    with pytest.raises(StateError, match="selector"):
        v.restore(dataclasses.replace(before, tr=dataclasses.replace(before.tr, selector=0x10000)))
    with pytest.raises(StateError, match="MSRs not unique"):
        v.restore(dataclasses.replace(before, msrs=((0x176, 1), (0x174, 2))))
    with pytest.raises(StateError, match=r"shadow_eip: '0x400123' is not int \| None"):
        v.restore(dataclasses.replace(before, shadow_eip="0x400123"))  # type: ignore[arg-type]
    assert v.save() == before


def test_clocks_and_tsc_round_trip() -> None:
    a = VirtualClock()
    a.advance(123_456_789)
    b = VirtualClock(5 * 10**9)
    b.restore(a.save())
    assert b.now_ns() == 123_456_789
    b.advance(1)
    assert b.save().now_ns == 123_456_790

    host = HostClock()
    later = HostClock()
    later.restore(HostClockState(now_ns=10**15))
    assert later.now_ns() >= 10**15 > host.now_ns()  # goes on from the saved time

    clock = VirtualClock(3000)
    tsc = TimeStampCounter(clock)
    tsc.write(0xFFFF_FFFF_FFFF_FC00)  # WRMSR 0x10 near the top: it wraps 1024 ns later
    other = TimeStampCounter(clock)
    other.restore(tsc.save())
    clock.advance(1000)
    assert other.rdtsc() == tsc.rdtsc() == (1 << 64) - 24
    clock.advance(1000)
    assert other.rdtsc() == tsc.rdtsc() == 976


def test_irq_line_is_data() -> None:
    pics = PicPair()
    line = IrqLine(pics, 0)
    assert line == IrqLine(pics, 0) and line != IrqLine(pics, 8)
    pics.master.write(1, 1, 0x00)
    line.set(1)
    assert pics.pending() and pics.acknowledge() == 0x08


def machine(name: str) -> Machine:
    image = load_guest(str(BIN / name), MEM)
    return Machine(MachineConfig(MEM), image, lambda _b: None)


@pytest.mark.parametrize(("guest", "insns"), [("platform.elf", 20_000), ("fidelity.elf", 30_000)])
def test_running_guest_state_restores_into_a_fresh_machine(guest: str, insns: int) -> None:
    m = machine(guest)
    result = m.run(max_insns=insns)
    assert result.kind == "limit", result  # stopped mid-run, not at its end
    state = m.save_state()
    assert pickle.loads(pickle.dumps(state)) == state
    fresh = machine(guest)
    assert fresh.save_state() != state
    fresh.restore_state(state)
    assert fresh.save_state() == state
    assert (state.guest_ram, state.cpu_context) == (None, None)  # the snapshot issue's part
    # The devices answer alike from here on (same ports, same time).
    for port, size in ((0x21, 1), (0xA1, 1), (0x3FD, 1), (0x64, 1), (0x3DA, 1), (0x3D5, 1)):
        assert fresh.io.read(port, size) == m.io.read(port, size), hex(port)
    for mach in (m, fresh):
        mach.io.write(0x43, 1, 0x00)  # latch channel 0 at the same guest time
    assert [fresh.io.read(0x40, 1) for _ in range(2)] == [m.io.read(0x40, 1) for _ in range(2)]


# Every device on the port bus, by its range's name -> the MachineState field that saves it.
SAVED_BY = {
    "com1": "com1",
    "debugcon": "debugcon",
    "pic-master": "pic",
    "pic-slave": "pic",
    "elcr": "pic",
    "pit": "pit",
    "port61": "pit",
    "cmos": "cmos",
    "kbd-data": "i8042",
    "kbd-command": "i8042",
    "vga": "vga",
    "isa-debug-exit": "exit_port",
    "postcode": "postcode",
    "ide0": "ide",
    "ide0-ctrl": "ide",
    "ide1": "ide",
    "ide1-ctrl": "ide",
    "fw_cfg": "fw_cfg",
    "fw_cfg-dma": "fw_cfg",
    "pci-config": "pci",
    "pm": "pm",
    "apm": "pm",
}


def test_machine_state_covers_every_device_on_the_bus() -> None:
    m = machine("platform.elf")
    assert {r.name for r in m.io.ranges()} == set(SAVED_BY), "a new device needs a record"
    fields = {f.name for f in dataclasses.fields(MachineState)}
    assert (
        set(SAVED_BY.values()) | {"vcpu", "clock", "tsc", "guest_ram", "cpu_context", "version"}
        == fields
    )


def test_fidelity_guest_reads_the_time_base_tsc() -> None:
    m = machine("fidelity.elf")
    m.run(max_insns=2_000_000)
    # RDTSC read the time base's TSC: the machine's clock at 1 GHz
    assert m.tsc.value == m.clock.now_ns() > 0
    assert m.save_state().tsc.offset == m.tsc.offset == 0


def test_machine_restore_is_all_or_nothing() -> None:
    m = machine("platform.elf")
    m.run(max_insns=20_000)
    before = m.save_state()
    fresh = machine("platform.elf")
    untouched = fresh.save_state()
    bad_vga = dataclasses.replace(before.vga, dac=bytes(3))  # the vCPU and PIC come first
    with pytest.raises(StateError, match="dac holds 3 bytes"):
        fresh.restore_state(dataclasses.replace(before, vga=bad_vga))
    assert fresh.save_state() == untouched
    with pytest.raises(StateError, match="HostClockState for a VirtualClock"):
        fresh.restore_state(dataclasses.replace(before, clock=HostClockState(now_ns=1)))
    with pytest.raises(StateError, match="expected None"):
        fresh.restore_state(
            dataclasses.replace(before, guest_ram=b"")  # type: ignore[arg-type]
        )
    assert isinstance(before, MachineState) and fresh.save_state() == untouched
