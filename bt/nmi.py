"""NmiLine: the CPU's NMI input: a latched request, held back from the delivery of an NMI until
the next IRET, as on a PC (Intel SDM vol. 3, 6.7.1)."""

from __future__ import annotations


class NmiLine:
    """One pending NMI at most; `take` at an instruction boundary when one may be delivered."""

    def __init__(self) -> None:
        self.pending = False
        self.blocked = False  # an NMI handler runs: the next NMI waits for IRET

    def raise_nmi(self) -> None:
        """An NMI arrives (the local APIC's LINT1 or an NMI message): latched."""
        self.pending = True

    def ready(self) -> bool:
        """Whether an NMI would be delivered now."""
        return self.pending and not self.blocked

    def take(self) -> bool:
        """Deliver the pending NMI if not blocked (it blocks the next one until IRET)."""
        if not self.ready():
            return False
        self.pending = False
        self.blocked = True
        return True

    def iret(self) -> None:
        """IRET completed: NMIs are delivered again."""
        self.blocked = False
