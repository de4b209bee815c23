"""VcpuExit: why translated code handed control back to the run loop, with its operands."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Goto:
    """Go on at guest EIP `eip` (in the current, possibly new, code segment)."""

    eip: int


@dataclass(frozen=True, slots=True)
class Halt:
    """HLT: the vCPU waits for an interrupt; `eip` is the instruction after HLT."""

    eip: int


@dataclass(frozen=True, slots=True)
class ExtInt:
    """An external interrupt taken before the instruction at `eip` (the frame returns there)."""

    vector: int
    eip: int


@dataclass(frozen=True, slots=True)
class Fault:
    """A guest-visible exception raised by the instruction at `eip` (delivered via the IDT)."""

    vector: int
    error_code: int | None
    eip: int


@dataclass(frozen=True, slots=True)
class SoftInt:
    """INT n / INT3 / INTO / INT1 at `eip`, returning to `next_eip` (gate DPL is checked)."""

    vector: int
    eip: int
    next_eip: int
    check_dpl: bool


@dataclass(frozen=True, slots=True)
class Shutdown:
    """The guest asked the machine to stop with process exit status `status`."""

    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Unsupported:
    """The guest used a feature the engine does not virtualize yet (a crash report)."""

    what: str
    eip: int


VcpuExit = Goto | Halt | ExtInt | Fault | SoftInt | Shutdown | Unsupported

# Exceptions that push an error code (Intel SDM vol. 3, table 6-1).
ERROR_CODE_VECTORS = frozenset({8, 10, 11, 12, 13, 14, 17, 21})
