"""Reuse of translations kept between runs (--cache-dir): only while their bytes still match."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bt.cache.block import TBKey
from bt.cache.persist import PersistentStore, decode, guest_hash
from bt.translator.records import TranslatedCode

GuestBytes = Callable[[Sequence[Sequence[int]]], bytes]


class StoreLookup:
    """Finds a stored translation whose guest bytes and assumptions hold now."""

    def __init__(self, store: PersistentStore, guest_bytes: GuestBytes) -> None:
        self.store = store
        self._guest_bytes = guest_bytes

    def find(self, key: TBKey, assumed: dict[str, int]) -> TranslatedCode | None:
        """A stored translation for `key` made from the guest bytes as they are now and for
        the current values of what it assumes (CR0, GDTR, IDTR, the CS descriptor)."""
        for digest, ranges, payload in self.store.candidates(key):
            if guest_hash(self._guest_bytes(ranges)) != digest:
                continue
            code = decode(payload)
            if any(assumed.get(name) != value for name, value in code.assumes):
                continue
            self.store.hits += 1
            return code
        return None

    def put(self, key: TBKey, code: TranslatedCode) -> None:
        """Keep a fresh translation for later runs."""
        self.store.put(key, code, self._guest_bytes(code.guest_ranges))
