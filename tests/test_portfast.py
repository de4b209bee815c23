"""The serial fast path (bt/portfast.py, bt/nativeio.py, translator/portio.py): when COM1 is
plain, what its accesses then look like to the guest, and that guests see the same bytes,
the same virtual time and the same interrupts as when every access is a callout."""

from __future__ import annotations

from pathlib import Path

import keystone
import pytest
from limits import HANG_GUARD
from test_platform import IDT_SETUP, pit_rate

from bt.backstop import sysv_x86_64_host
from bt.bootimage import BootImage
from bt.devices.uart16550 import Uart16550
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig
from bt.nativeio import UNLIMITED
from bt.portfast import REALTIME_BUDGET
from bt.runresult import RunResult
from bt.timebase import VirtualClock
from bt.translator.bake import Bake
from bt.translator.insn import GuestInsn
from bt.translator.portio import IN_AL_DX, OUT_DX_AL, OUT_E9_AL, callout_for, fast_vector

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
EXPECTED = ROOT / "guests" / "expected"
THR, IER, IIR, LCR, MCR, LSR = range(6)
native_only = pytest.mark.skipif(not sysv_x86_64_host(), reason="no host code on this host")


# -- the UART's plain state -----------------------------------------------------------------------
def test_uart_plain_after_reset_and_with_fifos_or_receive_interrupt() -> None:
    u = Uart16550(lambda _b: None)
    assert u.plain_lsr() == 0x60
    u.write(IIR, 1, 0xC7)  # FIFOs on, trigger level 14
    u.write(IER, 1, 0x01)  # received-data interrupt: nothing received, so nothing pending
    u.write(MCR, 1, 0x0B)  # DTR, RTS, OUT2
    assert u.plain_lsr() == 0x60


@pytest.mark.parametrize("reg,value", [(LCR, 0x80), (MCR, 0x10), (IER, 0x02), (IER, 0x0F)])
def test_uart_not_plain_with_dlab_loopback_or_thre_interrupt(reg: int, value: int) -> None:
    u = Uart16550(lambda _b: None)
    u.write(reg, 1, value)
    assert u.plain_lsr() is None
    u.write(reg, 1, 0x00)
    assert u.plain_lsr() == 0x60


def test_uart_not_plain_while_data_waits_or_after_overrun() -> None:
    u = Uart16550(lambda _b: None)
    told = []
    u.on_change = lambda: told.append(u.plain_lsr())
    u.feed(b"ab")  # taken one byte at a time (flow control)
    assert told == [None]
    assert u.read(LSR, 1) == 0x61
    assert (u.read(THR, 1), told[-1]) == (ord("a"), None)  # "b" moved in behind it
    assert (u.read(THR, 1), told[-1]) == (ord("b"), 0x60)
    u.write(MCR, 1, 0x10)  # loopback: two bytes sent overrun the holding register
    u.write(THR, 1, 1)
    u.write(THR, 1, 2)
    u.write(MCR, 1, 0x00)
    u.read(THR, 1)
    assert u.plain_lsr() is None  # the overrun bit waits for an LSR read
    assert (u.read(LSR, 1), told[-1]) == (0x62, 0x60)
    assert Uart16550(lambda _b: None, lambda: b"").plain_lsr() is None  # a host source


def test_transmitted_bytes_leave_the_uart_as_written_ones_do() -> None:
    """What the guest sees after the native hook sent bytes equals what it sees after the same
    bytes went through THR writes: LSR, IIR, the interrupt line, once the THRE interrupt is
    enabled and acknowledged."""
    seen = []
    for fast in (False, True):
        out = bytearray()
        u = Uart16550(out.extend)
        if fast:
            u.transmitted(b"hi")
        else:
            u.write(THR, 1, ord("h"))
            u.write(THR, 1, ord("i"))
        steps = [bytes(out), u.read(LSR, 1), u.read(IIR, 1), u.irq_pending()]
        u.write(IER, 1, 0x02)
        steps += [u.irq_pending(), u.read(IIR, 1), u.irq_pending(), u.read(IIR, 1)]
        seen.append(steps)
    assert seen[0] == seen[1] == [b"hi", 0x60, 0x01, False, True, 0x02, False, 0x01]


# -- which instructions take the fast vectors ---------------------------------------------------
def _insn(raw: bytes) -> GuestInsn:
    return GuestInsn(
        eip=0x1000,
        linear=0x1000,
        raw=raw,
        insn_id=0,
        mnemonic="",
        op_str="",
        operands=(),
        prefixes=tuple(b for b in raw if b in (0x66, 0x67, 0xF3, 0x26, 0x2E)),
        opsize=4,
    )


def _bake(cs_sel: int, iopl: int) -> Bake:
    return Bake(
        flags=True,
        iopl=iopl,
        cpl0=cs_sel & 3 == 0,
        trap_if=False,
        cs_sel=cs_sel,
        cs_flat=True,
        ss_sel=cs_sel + 8,
    )


@pytest.mark.parametrize(
    "raw,vector",
    [
        (b"\xee", OUT_DX_AL),
        (b"\xec", IN_AL_DX),
        (b"\xe6\xe9", OUT_E9_AL),
        (b"\xe6\x80", None),
        (b"\xe4\xe9", None),
        (b"\x66\xee", None),
        (b"\xef", None),
        (b"\xed", None),
        (b"\x2e\xee", None),
    ],
)
def test_fast_forms(raw: bytes, vector: int | None) -> None:
    assert fast_vector(_insn(raw), _bake(0x08, 0)) == vector


def test_fast_forms_only_where_every_port_is_open() -> None:
    # CPL 3 with IOPL 0: the TSS I/O bitmap decides, which only the monitor's callout checks.
    assert fast_vector(_insn(b"\xee"), _bake(0x1B, 0)) is None
    assert fast_vector(_insn(b"\xee"), _bake(0x1B, 2)) is None
    assert fast_vector(_insn(b"\xee"), _bake(0x1B, 3)) == OUT_DX_AL
    assert fast_vector(_insn(b"\xec"), _bake(0x09, 1)) == IN_AL_DX


def test_callout_code_for_fast_and_generic_forms() -> None:
    generic = b"\xcd\x81"
    assert callout_for(_insn(b"\xee"), _bake(0x08, 0), generic) == b"\xcd\x83"
    assert callout_for(_insn(b"\xe6\xe9"), _bake(0x08, 0), generic) == b"\xcd\x85"
    assert callout_for(_insn(b"\xee"), _bake(0x1B, 0), generic) == generic
    assert callout_for(_insn(b"\xee"), None, generic) == generic  # --no-inline: nothing baked
    assert callout_for(_insn(b"\xfa"), _bake(0x08, 0), generic) == generic  # CLI


# -- the budget ---------------------------------------------------------------------------------
class _Irq:
    def __init__(self, deadline: int | None) -> None:
        self.deadline = deadline

    def next_deadline(self) -> int | None:
        return self.deadline


@pytest.mark.parametrize(
    "until,budget", [(5000, 4), (5001, 5), (1000, 0), (999, 0), (0, 0), (-3000, 0)]
)
def test_budget_ends_before_the_access_that_finds_the_timer_due(until: int, budget: int) -> None:
    m = _machine(BIN / "serialout.elf")
    fast = m.portfast
    clock = VirtualClock(7_000)
    fast.clock, fast.irq = clock, _Irq(7_000 + until)  # type: ignore[assignment]
    assert fast.budget() == budget
    fast.irq = _Irq(None)  # type: ignore[assignment]
    assert fast.budget() == UNLIMITED
    fast.clock = None  # the host clock (--realtime)
    assert fast.budget() == REALTIME_BUDGET


# -- guests -------------------------------------------------------------------------------------
def _machine(
    path: Path, append: str = "", fast: bool = True, out: bytearray | None = None
) -> Machine:
    image = load_guest(str(path), 128 << 20, append)
    sink = out.extend if out is not None else (lambda _b: None)
    m = Machine(MachineConfig(128 << 20), image, sink)
    if not fast:
        m.portfast.disable()
    return m


@native_only
@pytest.mark.parametrize("name", ["serialout", "serialpoll"])
def test_benchmark_guest_prints_4_mib_byte_exact_without_python(name: str) -> None:
    out = bytearray()
    m = _machine(BIN / f"{name}.elf", out=out)
    res = m.run(timeout=HANG_GUARD)
    assert (res.kind, res.status) == ("exit-port", 1)
    # The reference is QEMU's output for 16 KiB: four periods of the guest's pattern.
    ref = (EXPECTED / f"{name}.serial").read_bytes()
    assert len(ref) == 16384
    assert bytes(out) == ref * 256
    accesses = 4 << 20 if name == "serialout" else 8 << 20  # one THR write (+ one LSR read)
    assert m.portfast.answered >= accesses - 1000
    assert m.runloop.stats().python_entries < 1000


@native_only
def test_tracing_takes_the_slow_path_and_records_every_access(tmp_path: Path) -> None:
    from bt.tracefile import open_trace

    out = bytearray()
    image = load_guest(str(BIN / "serialpoll.elf"), 128 << 20, "4096")
    trace = tmp_path / "t.trace"
    m = Machine(MachineConfig(128 << 20, trace_path=str(trace)), image, out.extend)
    res = m.run(timeout=HANG_GUARD)
    assert res.kind == "exit-port"
    assert bytes(out) == (EXPECTED / "serialpoll.serial").read_bytes()[:4096]
    assert m.portfast.answered == 0
    _header, records = open_trace(str(trace))
    ports = [(r.kind, r.port) for r in records if r.kind in ("in", "out")]
    assert ports.count(("in", 0x3FD)) == 4096 and ports.count(("out", 0x3F8)) == 4096


# A loop printing to COM1 (polling LSR) and 0xE9 with IRQ 0 at about 1 kHz; the handler logs
# where each interrupt came and how many bytes had been sent, 60 times.
TIMED_GUEST = (
    IDT_SETUP
    + pit_rate(1193)
    + """
    mov al, 0xfe
    out 0x21, al
    xor esi, esi
    sti
loop_top:
    mov dx, 0x3fd
wait:
    in al, dx
    test al, 0x20
    jz wait
    mov dx, 0x3f8
    mov eax, esi
    and al, 0x3f
    add al, 0x30
    out dx, al
    inc esi
    test esi, 0x3f
    jnz no_debugcon
    out 0xe9, al
no_debugcon:
    cmp dword ptr [0x300000], 60
    jb loop_top
    cli
    mov al, 0
    out 0xf4, al
handler:
    push eax
    push ebx
    mov ebx, dword ptr [0x300000]
    mov eax, dword ptr [esp + 8]
    mov dword ptr [0x300100 + ebx * 4], eax
    mov dword ptr [0x300200 + ebx * 4], esi
    inc dword ptr [0x300000]
    mov al, 0x20
    out 0x20, al
    pop ebx
    pop eax
    iretd
"""
)


def _run_timed(tmp_path: Path, fast: bool) -> tuple[bytes, bytes, bytes, int, RunResult, int]:
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    path = tmp_path / "timed.bin"
    path.write_bytes(bytes(ks.asm(TIMED_GUEST, 0x100000)[0]))
    image: BootImage = load_guest(str(path), 16 << 20, "", 0x100000, None)
    serial, debug = bytearray(), bytearray()
    m = Machine(MachineConfig(16 << 20), image, serial.extend, debug.extend)
    if not fast:
        m.portfast.disable()
    res = m.run(timeout=HANG_GUARD)
    return (
        bytes(serial),
        bytes(debug),
        m.memory.read(0x300000, 0x300),
        m.clock.now_ns(),
        res,
        m.portfast.answered,
    )


@native_only
def test_same_time_and_interrupts_as_with_every_access_a_callout(tmp_path: Path) -> None:
    slow = _run_timed(tmp_path, fast=False)
    fast = _run_timed(tmp_path, fast=True)
    assert slow[4].kind == "exit-port" and slow[5] == 0
    # Same output on both sinks, same interrupted EIPs and byte counts at each of the 60
    # interrupts, same virtual time at the end.
    assert fast[:4] == slow[:4]
    log = slow[2]
    assert int.from_bytes(log[:4], "little") == 60
    sent = [int.from_bytes(log[0x200 + 4 * i : 0x204 + 4 * i], "little") for i in range(60)]
    assert sent == sorted(sent) and sent[0] > 100
    # Nearly every LSR read and THR write (two per byte) was answered natively: all but the
    # one per timer event and those around the handler's own callouts.
    assert fast[5] > 2 * sent[-1] * 0.95


def test_without_host_code_the_guest_prints_the_same_through_callouts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bt.nativeio

    monkeypatch.setattr(bt.nativeio, "sysv_x86_64_host", lambda: False)
    out = bytearray()
    m = _machine(BIN / "serialpoll.elf", "16384", out=out)
    assert not m.engine.native_io.native and not m.portfast.enabled
    res = m.run(timeout=HANG_GUARD)
    assert (res.kind, res.status) == ("exit-port", 1)
    assert bytes(out) == (EXPECTED / "serialpoll.serial").read_bytes()
    assert m.portfast.answered == 0
    assert m.cache.stats().callouts["in"] >= 16384  # every LSR read was a Python callout
