"""Command-line values: numbers and addresses (hex, K/M/G suffixes), output paths checked early."""

from __future__ import annotations

import argparse
import os

from bt.errors import OptionError

SUFFIXES = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def number(text: str) -> int:
    """An integer in any base Python reads (0x100000, 1048576, 0o777)."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def address(text: str) -> int:
    """A guest address: a number as `number` reads it, or one with a K, M or G suffix (1M)."""
    scale = SUFFIXES.get(text[-1:].lower(), 1)
    digits = text[:-1] if scale != 1 else text
    try:
        value = int(digits, 0) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an address: {text!r} (give 0x100000, 1048576 or 1M)"
        ) from None
    if not 0 <= value < 1 << 32:
        raise argparse.ArgumentTypeError(f"0x{value:x} is not a 32-bit address")
    return value


def linear_range(text: str) -> tuple[int, int]:
    """A linear address range as QEMU's -dfilter writes one: START+SIZE or START..END
    (END included); returns (start, end) with `end` excluded."""
    lo, plus, size = text.partition("+")
    if not plus:
        lo, dots, hi = text.partition("..")
        if not dots:
            raise argparse.ArgumentTypeError(f"not a range: {text!r} (give 0x500+0x9f700)")
    try:
        start = address(lo)
        end = start + address(size) if plus else address(hi) + 1
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"not a range: {text!r} (give 0x500+0x9f700)") from None
    if end <= start or end > 1 << 32:
        raise argparse.ArgumentTypeError(f"an empty or too long range: {text!r}")
    return start, end


def check_output(option: str, path: str) -> None:
    """Refuse an output file that cannot be written, before the run rather than after it."""
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise OptionError(f"{option}: {path} is a directory")
    if not os.path.isdir(parent):
        raise OptionError(f"{option}: cannot write {path}: no directory {parent}")
    target = path if os.path.exists(path) else parent
    if not os.access(target, os.W_OK):
        raise OptionError(f"{option}: cannot write {path}: permission denied")
