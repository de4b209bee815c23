"""The native port hook (bt/nativeio.py): which accesses it answers itself and which it passes
to the Python hook, on a bare Unicorn CPU with the hook's shared record set by hand."""

from __future__ import annotations

import keystone
import pytest
from unicorn import UC_ARCH_X86, UC_MODE_32, Uc
from unicorn import x86_const as R

from bt.backstop import sysv_x86_64_host
from bt.nativeio import (
    _HOOK_ASM,
    _HOOK_CODE,
    BUFFER_SIZE,
    FAST_VECTORS,
    OWNER_COM1,
    OWNER_DEBUGCON,
    REG_IDS,
    UNLIMITED,
    NativePortIO,
)
from bt.translator import portio
from bt.translator.portio import IN_AL_DX, OUT_DX_AL, OUT_E9_AL

CODE = 0x1000
native_only = pytest.mark.skipif(not sysv_x86_64_host(), reason="no host code on this host")


def test_machine_code_is_the_assembly() -> None:
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_64)
    assert bytes(ks.asm(_HOOK_ASM)[0]) == _HOOK_CODE
    assert REG_IDS == (24, 19)  # the ids the code loads into ESI for uc_reg_read/write
    # The vectors the code compares with (0x83..0x85) are the ones the translator emits.
    assert FAST_VECTORS == portio.FAST_VECTORS == (OUT_DX_AL, IN_AL_DX, OUT_E9_AL)


class Cpu:
    """A bare CPU running a snippet in which `int` vectors stand for callouts."""

    def __init__(self, native: bool = True) -> None:
        self.uc = Uc(UC_ARCH_X86, UC_MODE_32)
        self.uc.mem_map(0, 0x10000)
        self.python: list[tuple[int, int, int]] = []  # (vector, EDX, EAX) seen by Python
        self.io = NativePortIO(self.uc, self._python, native=native)
        self._at = CODE  # each snippet at a fresh address: Unicorn keeps what it compiled

    def _python(self, uc: Uc, vector: int, _ud: object) -> None:
        self.python.append(
            (vector, uc.reg_read(R.UC_X86_REG_EDX) & 0xFFFF, uc.reg_read(R.UC_X86_REG_EAX))
        )

    def run(self, text: str) -> int:
        at = self._at
        code = bytes(keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32).asm(text, at)[0])
        self._at += 0x1000
        self.uc.mem_write(at, code)
        self.uc.reg_write(R.UC_X86_REG_ESP, 0xF000)
        self.uc.emu_start(at, at + len(code))
        return int(self.uc.reg_read(R.UC_X86_REG_EAX))


def thr(byte: int, vector: int = OUT_DX_AL, port: int = 0x3F8) -> str:
    return f"mov dx, {port:#x}\nmov al, {byte:#x}\nint {vector:#x}\n"


LSR_READ = f"mov eax, 0x12345611\nmov dx, 0x3fd\nint {IN_AL_DX:#x}\n"


@native_only
def test_plain_com1_thr_and_lsr_never_reach_python() -> None:
    cpu = Cpu()
    cpu.io.publish(0x60, True)
    cpu.io.set_budget(UNLIMITED)
    eax = cpu.run(thr(0x61) + thr(0x62) + LSR_READ)
    assert cpu.python == []
    assert eax == 0x12345660  # AL from the published LSR, the rest of EAX kept
    assert cpu.io.take() == (OWNER_COM1, b"ab", 3)
    assert cpu.io.take() == (OWNER_COM1, b"", 0)
    assert cpu.io.answered == 3


@native_only
def test_debugcon_bytes_through_dx_and_the_immediate_form() -> None:
    cpu = Cpu()
    cpu.io.publish(None, True)
    cpu.io.set_budget(UNLIMITED)
    cpu.run(thr(0x41, port=0xE9) + f"mov al, 0x42\nint {OUT_E9_AL:#x}\n")
    assert cpu.python == []
    assert cpu.io.take() == (OWNER_DEBUGCON, b"AB", 2)


@native_only
def test_com1_not_plain_goes_to_python_with_its_registers() -> None:
    cpu = Cpu()
    cpu.io.publish(None, True)  # DLAB set, loopback, THRE interrupt on, data received...
    cpu.io.set_budget(UNLIMITED)
    cpu.run(thr(0x61) + LSR_READ)
    assert cpu.python == [(OUT_DX_AL, 0x3F8, 0x61), (IN_AL_DX, 0x3FD, 0x12345611)]
    assert cpu.io.take() == (0, b"", 0)


@native_only
def test_other_ports_and_registers_go_to_python() -> None:
    cpu = Cpu()
    cpu.io.publish(0x60, True)
    cpu.io.set_budget(UNLIMITED)
    # Port 0x80, COM1's IER (0x3F9) and RBR (0x3F8 read), a 16-bit port that aliases 0x3F8
    # in its low byte, the generic callout vector.
    cpu.run(
        thr(1, port=0x80)
        + thr(2, port=0x3F9)
        + f"mov dx, 0x3f8\nint {IN_AL_DX:#x}\n"
        + thr(3, port=0x13F8)
        + "int 0x81\n"
    )
    assert [v for v, _dx, _ax in cpu.python] == [OUT_DX_AL, OUT_DX_AL, IN_AL_DX, OUT_DX_AL, 0x81]
    assert cpu.io.take() == (0, b"", 0)


@native_only
def test_one_port_in_the_buffer_at_a_time() -> None:
    cpu = Cpu()
    cpu.io.publish(0x60, True)
    cpu.io.set_budget(UNLIMITED)
    cpu.run(thr(0x61) + thr(0x42, port=0xE9))
    # The 0xE9 byte must follow the COM1 byte out: Python takes the buffer first.
    assert [v for v, _dx, _ax in cpu.python] == [OUT_DX_AL]
    assert cpu.io.take() == (OWNER_COM1, b"a", 1)


@native_only
def test_budget_counts_answered_accesses() -> None:
    cpu = Cpu()
    cpu.io.publish(0x60, True)
    cpu.io.set_budget(2)
    cpu.run(thr(0x61) + LSR_READ + thr(0x62))
    assert [v for v, _dx, _ax in cpu.python] == [OUT_DX_AL]  # the third access
    assert cpu.io.take() == (OWNER_COM1, b"a", 2)
    cpu.run(thr(0x63))
    assert len(cpu.python) == 2  # the budget was spent: still nothing answered


@native_only
def test_full_buffer_goes_to_python() -> None:
    cpu = Cpu()
    cpu.io.publish(0x60, True)
    cpu.io.set_budget(UNLIMITED)
    cpu.run(
        f"mov ecx, {BUFFER_SIZE + 1}\nmov dx, 0x3f8\nl: mov al, cl\nint {OUT_DX_AL:#x}\n"
        "dec ecx\njnz l\n"
    )
    assert [(v, ax & 0xFF) for v, _dx, ax in cpu.python] == [(OUT_DX_AL, 1)]
    owner, data, count = cpu.io.take()
    assert (owner, len(data), count) == (OWNER_COM1, BUFFER_SIZE, BUFFER_SIZE)
    assert data[:3] == bytes(((BUFFER_SIZE + 1) & 0xFF, BUFFER_SIZE & 0xFF, 0xFF))


def test_without_host_code_every_vector_is_a_python_callout() -> None:
    cpu = Cpu(native=False)
    cpu.io.publish(0x60, True)
    cpu.io.set_budget(UNLIMITED)
    assert not cpu.io.native and cpu.io.mode == "Python interrupt hook"
    cpu.run(thr(0x61) + LSR_READ + f"mov al, 0x42\nint {OUT_E9_AL:#x}\n")
    assert [v for v, _dx, _ax in cpu.python] == [OUT_DX_AL, IN_AL_DX, OUT_E9_AL]
    assert cpu.io.take() == (0, b"", 0)
