"""Distinct address types and page helpers shared by every layer (stdlib only)."""

from typing import NewType

GuestAddr = NewType("GuestAddr", int)
"""A guest linear or physical address (32-bit)."""

CodeAddr = NewType("CodeAddr", int)
"""An address inside the translation cache, as the real CPU fetches it."""

Port = NewType("Port", int)
"""An x86 I/O port number (16-bit)."""

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
