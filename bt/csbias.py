"""Undoes the CS-base bias of an address register when translated code stops inside a read
through CS that biased it (translator/csaccess.py), so the guest sees its own registers."""

from __future__ import annotations

import bisect

from unicorn import x86_const as R

from bt.cache.cache import TranslationCache
from bt.engine import Engine
from bt.translator.csaccess import bias_of
from bt.types import CodeAddr

_REG = {"esi": R.UC_X86_REG_ESI, "ebx": R.UC_X86_REG_EBX}


def unbias(cache: TranslationCache, engine: Engine, code_addr: CodeAddr) -> None:
    """If `code_addr` (where the CPU stopped on a fault or a refused write) is the copied
    instruction between a bias LEA and its undo, take the bias back out of the register."""
    tb = cache.block_at(code_addr)
    if tb is None:
        return
    off = code_addr - tb.code_addr
    i = bisect.bisect_right([r.offset for r in tb.insns], off) - 1
    if i < 0 or tb.insns[i].sensitivity.kind != "cs_access":
        return
    start = tb.insns[i].offset
    head = engine.read_code(tb.code_addr + start, 8)
    if head[:2] == b"\xcd\x81":  # the limit check's callout comes first
        start += 2
        head = engine.read_code(tb.code_addr + start, 6)
    got = bias_of(head)
    if got is not None and start + got[2] == off:
        name, bias, _ = got
        engine.write_reg(_REG[name], (engine.read_reg(_REG[name]) - bias) & 0xFFFFFFFF)
