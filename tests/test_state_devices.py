"""Every device round-trips through its state record: driven into a non-trivial state through its
ports, saved, restored into a fresh device, then both answer the same guest reads and raise the
same interrupts at the same guest times from there on."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from bt.devices.cmos import Cmos
from bt.devices.debugcon import DebugCon
from bt.devices.exit_port import ExitPort
from bt.devices.i8042 import I8042
from bt.devices.pic8259 import PicPair
from bt.devices.pit8254 import Pit8254
from bt.devices.pit_channel import PIT_FREQ
from bt.devices.records import DebugConState
from bt.devices.uart16550 import Uart16550
from bt.devices.vga import TEXT_BASE, VgaText
from bt.errors import StateError
from bt.timebase import NS_PER_SEC, VirtualClock


@dataclass
class Rig:
    """A device on its own virtual clock, with what it sent to its wiring."""

    clock: VirtualClock
    dev: Any
    log: list[object] = field(default_factory=list)


def round_trip(
    make: Callable[[], Rig],
    drive: Callable[[Rig], None],
    script: Callable[[Rig], list[object]],
) -> tuple[list[object], list[object]]:
    """Drive a device, restore its record into a fresh one, run `script` on both.

    Returns the two observation lists (reads and wiring events after the restore), already
    checked equal, so the caller can check they saw something.
    """
    a = make()
    drive(a)
    state, clock = a.dev.save(), a.clock.save()
    b = make()
    assert b.dev.save() != state, "the drive left the device in its initial state"
    b.clock.restore(clock)
    b.dev.restore(state)
    assert b.dev.save() == state
    assert pickle.loads(pickle.dumps(state)) == state  # plain data only
    a.log.clear()
    seen_a, seen_b = script(a) + a.log, script(b) + b.log
    assert seen_a == seen_b
    return seen_a, seen_b


def edges(rig: Rig) -> Callable[[int], None]:
    """An IRQ output that logs (guest time, level)."""
    return lambda level: rig.log.append((rig.clock.now_ns(), level))


# -- 8259A pair + ELCR --------------------------------------------------------------------------
def make_pic() -> Rig:
    return Rig(VirtualClock(), PicPair())


def drive_pic(r: Rig) -> None:
    p: PicPair = r.dev
    p.elcr.write(0, 2, 0x0C20)  # IRQ 5 level on the master, 10 and 11 on the slave
    p.slave.write(0, 1, 0x11)  # re-initialize the slave: vector 0x28, auto-EOI
    p.slave.write(1, 1, 0x28)
    p.slave.write(1, 1, 0x02)
    p.slave.write(1, 1, 0x03)
    p.slave.write(1, 1, 0x00)  # IMR 0
    p.master.write(1, 1, 0x00)
    for irq in (1, 3, 5, 9, 11):
        p.raise_irq(irq)
    p.lower_irq(3)  # latched edge stays
    first = p.acknowledge()  # IRQ 1, left in service ...
    p.master.write(1, 1, 0x02)  # ... and masked, so the cascade (IRQ 9) comes through
    p.master.write(0, 1, 0x68)  # special mask: a masked in-service level blocks nothing
    assert (first, p.acknowledge()) == (0x09, 0x29)
    p.master.write(0, 1, 0xC4)  # set priority: IRQ 5 lowest
    p.master.write(0, 1, 0x0B)  # OCW3: read ISR
    p.slave.write(0, 1, 0x6C)  # special mask on, poll next read


def script_pic(r: Rig) -> list[object]:
    p: PicPair = r.dev
    out: list[object] = [p.elcr.read(0, 2), p.slave.read(0, 1), p.master.read(0, 1)]
    out += [p.master.read(1, 1), p.slave.read(1, 1), p.slave.read(0, 1)]
    p.raise_irq(12)
    for _ in range(4):
        out += [p.pending(), p.acknowledge()]
        p.master.write(0, 1, 0x20)  # EOI
    p.lower_irq(11)
    out += [p.master.read(0, 1), p.pending(), p.acknowledge(), p.master.output]
    return out


def test_pic_pair_round_trip() -> None:
    seen, _ = round_trip(make_pic, drive_pic, script_pic)
    assert 0x29 not in seen[6:]  # IRQ 9 was taken before the save and is not taken again


# -- 8254 PIT + port 0x61 -----------------------------------------------------------------------
def make_pit() -> Rig:
    r = Rig(VirtualClock(), None)
    r.dev = Pit8254(r.clock, edges(r))
    return r


def drive_pit(r: Rig) -> None:
    pit: Pit8254 = r.dev
    pit.write(3, 1, 0x34)  # channel 0: mode 2, lobyte/hibyte
    pit.write(0, 1, 1000 & 0xFF)
    pit.write(0, 1, 1000 >> 8)
    pit.speaker.write(0, 1, 0x03)  # gate 2 up, speaker data on
    pit.write(3, 1, 0xB0)  # channel 2: mode 0, lobyte/hibyte
    pit.write(2, 1, 0x34)  # low byte only: the count waits for its high byte
    pit.write(3, 1, 0x76)  # channel 1: mode 3 word
    pit.write(1, 2, 0x00)
    pit.write(1, 1, 0x40)  # count 0x4000
    r.clock.advance(3 * NS_PER_SEC // 1000 + 17)
    pit.tick(r.clock.now_ns())
    pit.write(3, 1, 0x40)  # latch channel 1 ...
    pit.read(1, 1)  # ... and read only its low byte
    pit.write(3, 1, 0xE2)  # read-back: status and count of channel 0, both latched
    pit.speaker.read(0, 1)  # the refresh toggle moves


def script_pit(r: Rig) -> list[object]:
    pit: Pit8254 = r.dev
    out: list[object] = [pit.next_deadline_ns()]
    out += [pit.read(1, 1), pit.read(1, 1)]  # the latched high byte, then the live count
    out += [pit.read(0, 1), pit.read(0, 1), pit.read(0, 1)]  # status, latched word
    pit.write(2, 1, 0x12)  # completes channel 2's count
    for _ in range(6):
        r.clock.advance(NS_PER_SEC // PIT_FREQ * 311)
        pit.tick(r.clock.now_ns())
        out += [pit.speaker.read(0, 1), pit.read(2, 1), pit.read(2, 1), pit.next_deadline_ns()]
    return out


def test_pit_round_trip() -> None:
    seen, _ = round_trip(make_pit, drive_pit, script_pit)
    assert seen[1] != 0xFF and any(isinstance(e, tuple) for e in seen)  # IRQ 0 edges follow


# -- CMOS / RTC ---------------------------------------------------------------------------------
def make_cmos() -> Rig:
    r = Rig(VirtualClock(), None)
    r.dev = Cmos(r.clock, 32 << 20, edges(r))
    return r


def cmos_write(c: Cmos, index: int, value: int) -> None:
    c.write(0, 1, index)
    c.write(1, 1, value)


def cmos_read(c: Cmos, index: int) -> int:
    c.write(0, 1, index)
    return c.read(1, 1)


def drive_cmos(r: Rig) -> None:
    c: Cmos = r.dev
    cmos_write(c, 0x0B, 0x82)  # SET, 24 h: write a time
    for index, value in (
        (0x00, 0x58),
        (0x02, 0x59),
        (0x04, 0x23),
        (0x07, 0x31),
        (0x08, 0x12),
        (0x09, 0x99),
    ):
        cmos_write(c, index, value)
    cmos_write(c, 0x01, 0x01)  # alarm at hh:mm:01, any hour, any minute
    cmos_write(c, 0x03, 0xC0)
    cmos_write(c, 0x05, 0xC0)
    cmos_write(c, 0x0A, 0x2C)  # periodic rate 12 (16 Hz)
    cmos_write(c, 0x0B, 0x62)  # run: PIE, AIE, 24 h, BCD
    cmos_write(c, 0x40, 0xA5)  # a plain RAM byte
    r.clock.advance(NS_PER_SEC // 3)
    c.tick(r.clock.now_ns())
    c.write(0, 1, 0x8C)  # index C with NMI masked, left selected


def script_cmos(r: Rig) -> list[object]:
    c: Cmos = r.dev
    out: list[object] = [c.read(1, 1), c.nmi_masked, c.next_deadline_ns()]
    for _ in range(12):
        r.clock.advance(NS_PER_SEC // 4)
        c.tick(r.clock.now_ns())
        out += [cmos_read(c, i) for i in (0x00, 0x02, 0x04, 0x0A, 0x0C, 0x40)]
        out.append(c.next_deadline_ns())
    return out


def test_cmos_round_trip() -> None:
    seen, _ = round_trip(make_cmos, drive_cmos, script_cmos)
    assert (seen[0] & 0xC0) == 0xC0  # PF pending at the save, read after the restore
    reads = [seen[3 + 7 * i : 10 + 7 * i] for i in range(12)]
    assert reads[0][:3] == [0x58, 0x59, 0x23] and reads[-1][:3] == [0x01, 0x00, 0x00]
    assert [r[4] & 0x20 for r in reads].count(0x20) == 1  # the alarm at 00:00:01, once


# -- i8042 --------------------------------------------------------------------------------------
def make_kbd() -> Rig:
    r = Rig(VirtualClock(), None)
    r.dev = I8042(
        irq_kbd=lambda lv: r.log.append(("kbd", lv)),
        irq_aux=lambda lv: r.log.append(("aux", lv)),
        on_reset=lambda: r.log.append("reset"),
    )
    return r


def drive_kbd(r: Rig) -> None:
    k: I8042 = r.dev
    k.command.write(0, 1, 0x60)
    k.data.write(0, 1, 0x03)  # command byte: both IRQs, no translation
    k.data.write(0, 1, 0xF2)  # identify: FA AB 83 queued
    k.data.read(0, 1)
    k.command.write(0, 1, 0xD4)
    k.data.write(0, 1, 0xE9)  # aux status: FA 00 00 00 behind the keyboard's bytes
    k.data.write(0, 1, 0xED)  # LEDs: waits for its argument (the keyboard's write_cmd)
    k.type_text("Hi")
    k.command.write(0, 1, 0xD1)  # output port write waits for its data byte


def script_kbd(r: Rig) -> list[object]:
    k: I8042 = r.dev
    out: list[object] = []
    k.data.write(0, 1, 0xCF)  # the output port (reset bit set: no reset)
    for _ in range(16):
        out += [k.command.read(0, 1), k.data.read(0, 1)]
    k.data.write(0, 1, 0x07)  # the LED argument now goes to the keyboard
    k.command.write(0, 1, 0xD0)
    out += [k.data.read(0, 1), k.data.read(0, 1), k.keyboard.leds, k.outport]
    return out


def test_i8042_round_trip() -> None:
    seen, _ = round_trip(make_kbd, drive_kbd, script_kbd)
    assert 0x83 in seen and 0x23 in seen  # the identify reply and 'H' (set-1 make 0x23)


# -- 16550A UART --------------------------------------------------------------------------------
def make_uart() -> Rig:
    r = Rig(VirtualClock(), None)
    r.dev = Uart16550(lambda b: r.log.append(b))
    return r


def drive_uart(r: Rig) -> None:
    u: Uart16550 = r.dev
    u.write(3, 1, 0x83)  # DLAB: divisor 0x0301
    u.write(0, 1, 0x01)
    u.write(1, 1, 0x03)
    u.write(3, 1, 0x1B)  # 8E1, DLAB off
    u.write(2, 1, 0x41)  # FIFOs on, trigger level 4
    u.write(1, 1, 0x07)  # IER: RLS, THRE, RDA
    u.write(7, 1, 0x5A)
    u.feed(bytes(range(0x41, 0x41 + 25)))  # more than the FIFO takes: the rest waits
    u.read(0, 1)
    u.write(0, 1, 0x21)  # a transmit leaves THR empty pending


def script_uart(r: Rig) -> list[object]:
    u: Uart16550 = r.dev
    out: list[object] = [u.irq_pending()]
    for _ in range(30):
        out += [u.read(2, 1), u.read(5, 1), u.read(0, 1), u.irq_pending()]
    out += [u.read(3, 1), u.read(4, 1), u.read(6, 1), u.read(7, 1)]
    u.write(3, 1, 0x9B)
    out += [u.read(0, 1), u.read(1, 1)]
    u.write(3, 1, 0x1B)
    u.write(0, 1, 0x7E)
    return out


def test_uart_round_trip() -> None:
    seen, _ = round_trip(make_uart, drive_uart, script_uart)
    assert 0x59 in seen and 0x03 in seen  # the last host byte ('Y'), the divisor's high byte
    assert seen[-1] == b"\x7e"


# -- VGA text registers -------------------------------------------------------------------------
class Ram:
    def __init__(self) -> None:
        self.bytes = bytearray(0x100000)
        self.bytes[TEXT_BASE : TEXT_BASE + 8] = b"b\x07t\x07!\x70 \x07"

    def read(self, addr: int, size: int) -> bytes:
        return bytes(self.bytes[addr : addr + size])


def make_vga() -> Rig:
    return Rig(VirtualClock(), VgaText(Ram()))


def drive_vga(r: Rig) -> None:
    v: VgaText = r.dev
    for index, value in ((0x0A, 0x0E), (0x0C, 0x00), (0x0D, 0x01), (0x0E, 0x01), (0x0F, 0x23)):
        v.write(0x3D4 - 0x3B0, 1, index)
        v.write(0x3D5 - 0x3B0, 1, value)
    v.write(0x3C4 - 0x3B0, 1, 0x02)
    v.write(0x3CE - 0x3B0, 1, 0x06)
    v.read(0x3DA - 0x3B0, 1)  # flip-flop to index, status 1 toggled
    v.write(0x3C0 - 0x3B0, 1, 0x10)  # index 0x10; the data byte comes next
    v.write(0x3C8 - 0x3B0, 1, 0x05)
    for value in (0x3F, 0x20, 0x01, 0x11, 0x22):  # one entry and two thirds of the next
        v.write(0x3C9 - 0x3B0, 1, value)
    v.write(0x3C7 - 0x3B0, 1, 0x05)
    v.read(0x3C9 - 0x3B0, 1)


def script_vga(r: Rig) -> list[object]:
    v: VgaText = r.dev
    v.write(0x3C0 - 0x3B0, 1, 0x0C)  # the pending attribute data byte
    v.write(0x3C9 - 0x3B0, 1, 0x33)  # a new write latch: the 0x3C7 write reset the sub-index
    out: list[object] = [v.read(offset, 1) for offset in range(0x30)]
    out += [v.read(0x3C9 - 0x3B0, 1) for _ in range(8)]
    v.write(0x3C7 - 0x3B0, 1, 0x05)
    out += [v.read(0x3C9 - 0x3B0, 1) for _ in range(3)]
    out += [v.cursor(), v.cursor_visible, v.screen_text(), v.render_ansi()]
    return out


def test_vga_round_trip() -> None:
    seen, _ = round_trip(make_vga, drive_vga, script_vga)
    assert seen[-7:-4] == [0x3F, 0x20, 0x01]  # entry 5 as written before the save


# -- debugcon and the exit port -----------------------------------------------------------------
def test_exit_port_round_trip() -> None:
    a, b = ExitPort(), ExitPort()
    a.write(0, 2, 0x0180)
    b.restore(a.save())
    assert (b.exit_status, b.requested_status, b.read(0, 4)) == (1, 0x301, 0)
    assert ExitPort().save().requested_status is None


def test_debugcon_round_trip() -> None:
    out: list[bytes] = []
    a, b = DebugCon(out.append), DebugCon(out.append)
    a.write(0, 1, 0x41)
    b.restore(a.save())
    b.write(0, 1, 0x42)
    assert (out, b.read(0, 1), b.save()) == ([b"A", b"B"], 0xE9, DebugConState())


# -- refusals -----------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [make_pic, make_pit, make_cmos, make_kbd, make_uart, make_vga])
def test_restore_refuses_another_version(make: Callable[[], Rig]) -> None:
    r = make()
    state = r.dev.save()
    before = r.dev.save()
    with pytest.raises(StateError, match="version"):
        r.dev.restore(dataclasses.replace(state, version=state.version + 1))
    assert r.dev.save() == before


def test_restore_refuses_malformed_records() -> None:
    pit = make_pit().dev
    state = pit.save()
    with pytest.raises(StateError, match="expected a tuple"):
        pit.restore(dataclasses.replace(state, channels=list(state.channels)))
    with pytest.raises(StateError, match="2 channels"):
        pit.restore(dataclasses.replace(state, channels=state.channels[:2]))
    bad = dataclasses.replace(state.channels[1], mode=9)
    with pytest.raises(StateError, match="mode"):
        pit.restore(
            dataclasses.replace(state, channels=(state.channels[0], bad, state.channels[2]))
        )
    cmos = make_cmos().dev
    with pytest.raises(StateError, match="127 bytes"):
        cmos.restore(dataclasses.replace(cmos.save(), data=bytes(127)))
    pics = PicPair()
    with pytest.raises(StateError, match="expected bool"):
        pics.restore(
            dataclasses.replace(pics.save(), slave=dataclasses.replace(pics.save().slave, poll=1))
        )
    with pytest.raises(StateError, match="pic: cannot restore from PitState, expected PicPair"):
        pics.restore(state)
    vga = make_vga().dev
    with pytest.raises(StateError, match="dac holds 767 bytes"):
        vga.restore(dataclasses.replace(vga.save(), dac=bytes(767)))
    uart = make_uart().dev
    with pytest.raises(StateError, match="17 bytes in the FIFO"):
        uart.restore(dataclasses.replace(uart.save(), fifo=bytes(17)))
    with pytest.raises(StateError, match="not \\(V << 1\\) | 1"):
        ExitPort().restore(dataclasses.replace(ExitPort().save(), requested_status=4))


# -- coverage: a new attribute must be state (in the record) or wiring (named here) -------------
WIRING = {
    "Pic8259": {"master", "elcr_mask", "on_output"},
    "PicPair": {"elcr"},  # the ELCR port object; the bytes are in each chip's record
    "Pit8254": {"_clock", "_irq"},
    "SpeakerPort": {"_pit"},
    "Cmos": {"_clock", "_irq"},
    "I8042": {"_irq_kbd", "_irq_aux", "_on_a20", "_on_reset", "data", "command"},
    "Uart16550": {"_sink", "_source", "on_change"},  # on_change: the native fast path (portfast)
    "VgaText": {"_memory"},
    "DebugCon": {"_sink"},
}
RENAMED = {"_host": "host_input", "_aux": "aux"}


def _attributes(obj: object) -> set[str]:
    names = set(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        names.update(getattr(cls, "__slots__", ()))
    return names - WIRING.get(type(obj).__name__, set())


def _check_covered(obj: object, record: Any) -> None:
    """Every attribute of `obj` but its wiring is a field of `record`, and the reverse."""
    by_field = {RENAMED.get(a, a.lstrip("_")): a for a in _attributes(obj)}
    fields = {f.name for f in dataclasses.fields(record)} - {"version"}
    assert set(by_field) == fields, (
        f"{type(obj).__name__}: not in the record "
        f"{set(by_field) - fields}, not in the device "
        f"{fields - set(by_field)}"
    )
    for name in fields:  # nested records cover the parts they save (channels, keyboard...)
        value, part = getattr(record, name), getattr(obj, by_field[name])
        if dataclasses.is_dataclass(value):
            _check_covered(part, value)
        elif isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            for item, rec in zip(part, value, strict=True):
                _check_covered(item, rec)


@pytest.mark.parametrize("make", [make_pic, make_pit, make_cmos, make_kbd, make_uart, make_vga])
def test_every_device_attribute_is_in_its_record_or_is_wiring(make: Callable[[], Rig]) -> None:
    dev = make().dev
    _check_covered(dev, dev.save())  # nested parts too: both 8259As, the channels, port 0x61


def test_small_devices_hold_only_their_record_and_wiring() -> None:
    _check_covered(ExitPort(), ExitPort().save())
    _check_covered(DebugCon(lambda _b: None), DebugConState())
