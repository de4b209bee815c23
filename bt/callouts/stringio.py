"""Block moves for REP INS/OUTS: a device's whole run of data-port items in one callout step.

A `rep insw` of a 512-byte IDE sector is 256 port reads; one at a time each costs a device
call, a memory write and two register updates in Python. When the port's device moves item
runs itself (bt.bus.StringDevice: the IDE data register's DRQ block), the items go in pieces
that never cross a page, the end of the device's block or the 64 KiB wrap of a 16-bit
DI/SI, so the semantics stay those of the item-by-item loop: each piece's page is translated
(and may raise #PF) before the device gives or takes anything, and ECX and EDI/ESI are
updated after every piece, so a fault part-way leaves them at the first item not moved.
Only forward moves (DF clear) of aligned items take this path, and never while a data or I/O
breakpoint watches (those need each access); the rest runs item by item as before.
"""

from __future__ import annotations

from collections.abc import Callable

from bt.bus import StringDevice
from bt.callouts.context import CalloutContext
from bt.paging import READ, WRITE

PAGE = 0x1000


def _piece(ctx: CalloutContext, areg: str, size: int, count: int, base: int) -> tuple[int, int]:
    """(linear address, items) of the next piece at `areg`, or (0, 0) when unaligned."""
    offset = ctx.reg(areg)
    if offset % size:
        return 0, 0
    wrap = 0x10000 if areg in ("di", "si") else 0x1_0000_0000
    linear = (base + offset) & 0xFFFFFFFF
    room = min(PAGE - (linear & (PAGE - 1)), wrap - offset) // size
    return linear, min(count, room)


def _advance(ctx: CalloutContext, areg: str, creg: str, size: int, items: int) -> None:
    ctx.set_reg(areg, ctx.reg(areg) + items * size)
    ctx.set_reg(creg, ctx.reg(creg) - items)


def _run(
    ctx: CalloutContext,
    areg: str,
    creg: str,
    size: int,
    count: int,
    base: int,
    move: Callable[[int, int], int],
) -> int:
    """Pieces of `count` items at base:[areg] through `move(linear, items)` (the items it
    moved; 0: the device has no more) until done; the items left."""
    while count:
        linear, n = _piece(ctx, areg, size, count, base)
        if n == 0:
            break
        moved = move(linear, n)
        if moved == 0:
            break
        _advance(ctx, areg, creg, size, moved)
        count -= moved
    return count


def ins_run(
    ctx: CalloutContext,
    target: tuple[StringDevice, int],
    size: int,
    count: int,
    base: int,
    ireg: str,
    creg: str,
) -> int:
    """Move what the device gives of `count` items to base:[ireg]; the items left."""
    device, offset = target

    def move(linear: int, n: int) -> int:
        ctx.mem.linear_to_phys(linear, WRITE)  # #PF here moves nothing of this piece
        data = device.read_string(offset, size, n)
        ctx.mem.write(linear, data)
        ctx.io.count_string(len(data) // size, write=False)
        return len(data) // size

    return _run(ctx, ireg, creg, size, count, base, move)


def outs_run(
    ctx: CalloutContext,
    target: tuple[StringDevice, int],
    size: int,
    count: int,
    base: int,
    sreg: str,
    creg: str,
) -> int:
    """Move `count` items at base:[sreg] to the device while it takes them; the items left."""
    device, offset = target

    def move(linear: int, n: int) -> int:
        ctx.mem.linear_to_phys(linear, READ)
        taken = device.write_string(offset, size, ctx.mem.read(linear, n * size)) // size
        ctx.io.count_string(taken, write=True)
        return taken

    return _run(ctx, sreg, creg, size, count, base, move)


def block_target(ctx: CalloutContext, port: int, rep: bool) -> tuple[StringDevice, int] | None:
    """The device of `port` when a REP INS/OUTS may move runs of items (no breakpoints
    watching, DF clear)."""
    if not rep or ctx.guest_eflags() & (1 << 10):
        return None
    if ctx.mem.on_access is not None or (ctx.watch is not None and ctx.watch.io):
        return None
    return ctx.io.string_device(port)
