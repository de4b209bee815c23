"""BiosStats: how often each BIOS function was called, and which ones were not implemented."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bt.bios.api import BiosCall, Outcome, Service, ServiceResult, Unsupported

HARDWARE_VECTORS = frozenset({0x08, 0x09, 0x70})  # IRQ handlers: AH is the interrupted code's


@dataclass(frozen=True, slots=True)
class BiosStats:
    """Completed calls per (vector, AH) (AH None for the IRQ handlers), in vector order, and
    the functions the guest asked for that the BIOS does not implement."""

    calls: tuple[tuple[int, int | None, int], ...]  # (vector, ah, count)
    unsupported: tuple[tuple[int, int, str, int], ...]  # (vector, ah, what, count)
    waits: int  # service calls that found nothing to return yet (a WAIT)

    def lines(self) -> list[str]:
        """One line per function for --stats: `INT 10h AH=0Eh: 12`."""
        out = []
        for vector, ah, count in self.calls:
            name = f"INT {vector:02X}h" if ah is None else f"INT {vector:02X}h AH={ah:02X}h"
            out.append(f"{name}: {count}")
        for _vector, _ah, what, count in self.unsupported:
            out.append(f"{what}: {count} (not implemented)")
        return out


class BiosCounter:
    """Counts the calls the services it wraps complete (a WAIT is counted when the call is
    repeated and completes, not at every try)."""

    def __init__(self) -> None:
        self._calls: Counter[tuple[int, int | None]] = Counter()
        self._unsupported: Counter[tuple[int, int, str]] = Counter()
        self._waits = 0

    def record(self, vector: int, ah: int, result: ServiceResult) -> None:
        """Count one return of the service of `vector` entered with `ah`."""
        if result is Outcome.WAIT:
            self._waits += 1
        elif isinstance(result, Unsupported):
            self._unsupported[(result.vector, result.ah, result.what)] += 1
        else:
            self._calls[(vector, None if vector in HARDWARE_VECTORS else ah)] += 1

    def wrap(self, service: Service) -> Service:
        """`service`, with its results counted here."""
        return _Counted(service, self)

    def stats(self) -> BiosStats:
        """The counts so far."""
        calls = sorted(self._calls.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0))
        unsupported = sorted(self._unsupported.items())
        return BiosStats(
            calls=tuple((v, ah, n) for (v, ah), n in calls),
            unsupported=tuple((v, ah, what, n) for (v, ah, what), n in unsupported),
            waits=self._waits,
        )


class _Counted:
    """A service whose every result goes to a BiosCounter."""

    def __init__(self, service: Service, counter: BiosCounter) -> None:
        self._service = service
        self._counter = counter

    def __call__(self, call: BiosCall) -> ServiceResult:
        # The AH of a completed call is read before the service changes it.
        ah = call.cpu.reg("ah")
        result = self._service(call)
        self._counter.record(call.vector, ah, result)
        return result
