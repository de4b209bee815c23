"""Reads QEMU's `-d exec,cpu` log as a trace: one execution record per logged TB.

QEMU prints, for every translation block it runs, a "Trace N: ..." line followed by the CPU
state before the block (EAX=... EIP=... EFL=..., one line per segment register, CR0=...).
With `-singlestep` every block is one instruction. The reader turns each dump into the
registers of a bt-trace execution record (tools/qemu_trace.py makes such logs).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from bt.tracefile import REGS, TraceFileError, TraceHeader, TraceRecord, open_trace

_PAIR = re.compile(r"([A-Z0-9]{2,3})\s?=\s?([0-9a-f]{4,8})\b")
_GPR = {"EAX", "EBX", "ECX", "EDX", "ESI", "EDI", "EBP", "ESP", "EIP", "EFL"}


def is_qemu_log(first_line: str) -> bool:
    """Whether a file starting with `first_line` looks like QEMU's exec/cpu log."""
    return first_line.startswith("Trace ") or first_line.startswith("EAX=")


def open_any_trace(path: str) -> tuple[TraceHeader, Iterator[TraceRecord]]:
    """A bt-trace file or a QEMU log, recognised by its first line."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(200).decode("latin-1")
    except FileNotFoundError:
        raise TraceFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise TraceFileError(f"{path}: cannot read: {exc.strerror}") from None
    if is_qemu_log(first):
        return read_qemu_log(path)
    return open_trace(path)


def read_qemu_log(path: str) -> tuple[TraceHeader, Iterator[TraceRecord]]:
    """Header and lazy records of a QEMU `-d exec,cpu` log. QEMU does not say how long its
    blocks are; logs made with `-singlestep` (tools/qemu_trace.py) are instruction level."""
    header = TraceHeader("insn", "qemu", path, REGS)

    def records() -> Iterator[TraceRecord]:
        vals: dict[str, int] = {}
        with open(path, encoding="latin-1") as fh:
            for line in fh:
                if line.startswith("Trace "):
                    vals = {}
                    continue
                head = line[:4]
                if head in ("EAX=", "ESI=", "EIP="):
                    for name, value in _PAIR.findall(line):
                        if name in _GPR:
                            vals[name.lower()] = int(value, 16)
                elif head[:2] in ("ES", "CS", "SS", "DS", "FS", "GS") and head[2:4] == " =":
                    vals[head[:2].lower()] = int(line[4:8], 16)
                elif head == "CR0=":
                    for name, value in _PAIR.findall(line):
                        vals[name.lower()] = int(value, 16)
                    if "eip" in vals:
                        vals["eflags"] = vals.get("efl", 0)
                        regs = tuple(vals.get(r, 0) for r in REGS)
                        yield TraceRecord("exec", eip=vals["eip"], regs=regs)
                    vals = {}

    return header, records()
