"""Task switches where QEMU 7.2 is not the reference: a #TS raised in the new task's context,
and the T bit (guests/bin/tasks_ts.elf: guests/tasks.asm built with -DTS_IN_NEW_TASK)."""

from __future__ import annotations

import functools
import re

from limits import GUEST_INSNS
from test_guests import EXPECTED, run_bt

FIRST = "#TS in the new task (LDT 0x10) through a task gate"
T_BIT = "T bit"
AFTER = "iret NT to an available TSS"


@functools.cache
def _output() -> str:
    bound = str(10 * GUEST_INSNS["tasks"] + 100_000)
    proc = run_bt("run", "tasks_ts.elf", "--max-insns", bound)
    assert proc.stderr == b"" and proc.returncode == 1
    return proc.stdout.decode()


def _lines(first: str, last: str) -> list[str]:
    lines = _output().splitlines()
    start = lines.index(first)
    return lines[start + 1 : lines.index(last, start)]


def test_ts_in_new_task_is_raised_at_its_first_instruction() -> None:
    # SDM vol. 3 7.3: a fault after the switch's commit point (here E's LDT selector names a
    # data segment) belongs to the new task: E's TSS holds E's registers and its first
    # instruction, the #TS handler task F's back link is E, and F's IRET runs E from there
    # (QEMU 7.2 saves the CALL's address + 0x1000 as E's EIP and runs E from that address).
    f_line, e_line, main_line = _lines(FIRST, T_BIT)
    m = re.fullmatch(
        r"task F err=0x0010 task_e=(0x[0-9a-f]{8}) link=0x00a8 e\.eip=(\S+) (.*)", f_line
    )
    assert m is not None and m[1] == m[2]
    # E's registers were loaded before the fault; its EFLAGS has NT (a CALL); its selectors too.
    assert m[3] == "e.eax=0xe0e0e0e0 e.eflags=0x00004002 e.ds=0x0010 types=b919bb9"
    # F put a null LDT selector in E's TSS; E runs with it, busy, its back link main's.
    assert e_line.startswith("task E eax=0xe0e0e0e0 tr=0x00a8 ldtr=0x0000 eflags=0x0000404")
    assert e_line.endswith("cr0=0x00000019 types=b919b99")
    assert main_line == (
        "main eflags=0x00000046 cr0=0x00000019 types=b919999 e.link=0x0028 f.link=0x00a8"
    )


def test_t_bit_raises_db_before_the_new_tasks_first_instruction() -> None:
    # SDM 7.2.1 (and Bochs): with the T bit of the new TSS set, #DB (a trap, DR6.BT) is taken
    # once the switch is done, before the task's first instruction, which the handler returns to.
    e_line, main_line = _lines(T_BIT, AFTER)
    assert e_line.startswith("task E eax=0xe0e0e0e0 tr=0x00a8")
    m = re.fullmatch(r"main db\.eip=(\S+) e\.again=(\S+) db\.dr6=0xffff8ff0", main_line)
    assert m is not None and m[1] == m[2]


def test_the_rest_is_what_qemu_prints() -> None:
    # Everything else is QEMU's output for guests/tasks.asm, but the code's addresses.
    section = [FIRST, *_lines(FIRST, AFTER)]
    rest = _output().replace("\n".join(section) + "\n", "")
    assert _unplaced(rest) == _unplaced((EXPECTED / "tasks.serial").read_text())


def _unplaced(text: str) -> str:
    """The guest's output with its code and data addresses (at 1 MiB) blanked."""
    return re.sub(r"0x0010[0-9a-f]{4}", "0x0010....", text)
