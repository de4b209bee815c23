"""RegisterFile: batch access to a fixed list of real registers through Unicorn's C API."""

from __future__ import annotations

import ctypes

from unicorn import Uc
from unicorn.unicorn_py3.unicorn import uclib


class RegisterFile:
    """Batch access to a fixed list of real registers through Unicorn's C API.

    The binding's own reg_read_batch rebuilds its ctypes arrays on every call (about 25 us for
    nine registers); these arrays are built once, which makes a batch cost about 1 us.
    """

    def __init__(self, uc: Uc, ids: tuple[int, ...]) -> None:
        n = len(ids)
        self._uch = uc._uch
        self._ids = (ctypes.c_int * n)(*ids)
        self._vals = (ctypes.c_uint64 * n)()
        base = ctypes.addressof(self._vals)
        self._ptrs = (ctypes.c_void_p * n)(*(base + 8 * i for i in range(n)))
        self._n = ctypes.c_int(n)

    def read(self) -> list[int]:
        """Current values, in the order of `ids` (the storage only ever holds 32-bit values)."""
        uclib.uc_reg_read_batch(self._uch, self._ids, self._ptrs, self._n)
        return list(self._vals)

    def write(self, values: list[int]) -> None:
        """Set every register of the list."""
        for i, v in enumerate(values):
            self._vals[i] = v & 0xFFFFFFFF
        uclib.uc_reg_write_batch(self._uch, self._ids, self._ptrs, self._n)
