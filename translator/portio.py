"""Port I/O forms the monitor's native hook may answer without Python (bt/nativeio.py).

A byte IN or OUT through DX, or OUT to the debug console's immediate port, becomes a callout
on a vector of its own instead of the generic one: the native interrupt hook reads the form
from the vector, answers the COM1 LSR and THR and port 0xE9 from state the monitor
publishes, and passes everything else to the monitor exactly like a generic callout (the
call site is recorded the same way). Only where the translation's key says the guest may do
port I/O at all, CPL <= IOPL: the real CPU never checks I/O permission (DESIGN.md fact 20),
so a guest at CPL > IOPL keeps the generic callout, which checks the TSS I/O bitmap.
"""

from __future__ import annotations

from bt.translator.bake import Bake
from bt.translator.insn import GuestInsn

OUT_DX_AL = 0x83  # out dx, al
IN_AL_DX = 0x84  # in al, dx
OUT_E9_AL = 0x85  # out 0xe9, al
FAST_VECTORS = (OUT_DX_AL, IN_AL_DX, OUT_E9_AL)

_FORMS = {b"\xee": OUT_DX_AL, b"\xec": IN_AL_DX, b"\xe6\xe9": OUT_E9_AL}


def may_do_io(bake: Bake) -> bool:
    """Whether every port is open to code of this key: CPL (the CS selector's RPL) <= IOPL."""
    return (bake.cs_sel & 3) <= bake.iopl


def fast_vector(insn: GuestInsn, bake: Bake) -> int | None:
    """The vector of the callout for `insn` when it is a form the native hook knows (no
    prefixes) and the key allows port I/O; None for the generic callout."""
    vector = _FORMS.get(insn.raw)
    if vector is None or not may_do_io(bake):
        return None
    return vector


def callout_for(insn: GuestInsn, bake: Bake | None, generic: bytes) -> bytes:
    """The callout code for `insn`: `int vector` for a fast form (2 bytes, like the generic
    callout), otherwise `generic`."""
    vector = fast_vector(insn, bake) if bake is not None else None
    return generic if vector is None else bytes((0xCD, vector))
