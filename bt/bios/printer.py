"""INT 17h: the printer services, not implemented (the machine has no parallel port device):
every call is named as unsupported (CF set, AH kept: SeaBIOS's answer to an unknown function)
rather than answered with an invented printer status."""

from __future__ import annotations

from bt.bios.api import BiosCall, ServiceResult, Unsupported


class Printer:
    """The INT 17h service."""

    def __call__(self, call: BiosCall) -> ServiceResult:
        ah = call.cpu.reg("ah")
        return Unsupported(0x17, ah, f"INT 17h AH={ah:02X}h (no printer)", code=None)
