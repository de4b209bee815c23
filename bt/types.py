"""Distinct address types and page helpers shared by every layer (stdlib only)."""

from bt.cache.codebuf import CodeAddr
from bt.translator.insn import GuestAddr

# The address types belong to the layers that own them: the translator (guest addresses) and
# the cache (translated-code addresses); the monitor names them from here.
__all__ = [
    "CodeAddr",
    "GuestAddr",
    "PAGE_MASK",
    "PAGE_SHIFT",
    "PAGE_SIZE",
    "page_of",
    "pages_spanned",
]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
PAGE_MASK = ~(PAGE_SIZE - 1) & 0xFFFFFFFF


def page_of(addr: int) -> int:
    """The page-aligned base of the page holding `addr`."""
    return addr & ~(PAGE_SIZE - 1)


def pages_spanned(addr: int, size: int) -> range:
    """Page bases of every page touched by [addr, addr + size)."""
    if size <= 0:
        return range(0)
    return range(page_of(addr), page_of(addr + size - 1) + 1, PAGE_SIZE)
