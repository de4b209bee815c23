"""The IDE controller's state records (both channels, every position) and their save/restore.

Plain data as bt/staterecord.py wants it: each position's task file, HOB bytes, status, the
DRQ block in progress (its buffer, where the host is in it and what comes after it), the
multiple count, the CHS translation and the IDENTIFY block it keeps; each channel's selected
unit, device control byte and interrupt level. Which positions hold a disk is the machine's
configuration, not state: a record for another layout is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from bt.devices.ata_drive import END_DUMMY, END_READ, END_STOP, END_WRITE, AtaDrive
from bt.devices.ide_channel import IdeChannel
from bt.staterecord import check_record, require, require_range

ENDS = (END_DUMMY, END_STOP, END_READ, END_WRITE)
OWNER = "ide"


@dataclass(frozen=True, slots=True)
class AtaDriveState:
    """One position."""

    present: bool
    feature: int
    error: int
    nsector: int
    sector: int
    lcyl: int
    hcyl: int
    hob_feature: int
    hob_nsector: int
    hob_sector: int
    hob_lcyl: int
    hob_hcyl: int
    select: int
    status: int
    lba48: bool
    mult_sectors: int
    req_nb_sectors: int
    heads: int
    spt: int
    reset_reverts: bool
    end: int  # index in ENDS: what the finished DRQ block leads to
    data_ptr: int
    data_end: int
    buffer: bytes
    identify: tuple[int, ...]
    sectors_read: int
    sectors_written: int
    version: int = 1


@dataclass(frozen=True, slots=True)
class IdeChannelState:
    """One channel."""

    unit: int
    cmd: int
    irq_level: int
    drives: tuple[AtaDriveState, AtaDriveState]
    version: int = 1


@dataclass(frozen=True, slots=True)
class IdeState:
    """Both channels."""

    channels: tuple[IdeChannelState, IdeChannelState]
    version: int = 1


BYTES = "feature error sector lcyl hcyl hob_feature hob_nsector hob_sector hob_lcyl hob_hcyl"


def save_drive(d: AtaDrive) -> AtaDriveState:
    """`d`'s record."""
    return AtaDriveState(
        d.present, d.feature, d.error, d.nsector, d.sector, d.lcyl, d.hcyl, d.hob_feature,
        d.hob_nsector, d.hob_sector, d.hob_lcyl, d.hob_hcyl, d.select, d.status, d.lba48,
        d.mult_sectors, d.req_nb_sectors, d.heads, d.spt, d.reset_reverts, ENDS.index(d.end),
        d.data_ptr, d.data_end, bytes(d.buffer), tuple(d.identify), d.sectors_read,
        d.sectors_written,
    )  # fmt: skip


def _check_drive(d: AtaDrive, s: AtaDriveState) -> None:
    require(
        s.present == d.present, OWNER, "a disk where the machine has none, or none where it has one"
    )
    require_range(OWNER, s, BYTES + " select status heads", 0, 0xFF)
    require_range(OWNER, s, "spt", 0, 0xFF)
    require_range(OWNER, s, "nsector", 0, 65536)
    require_range(OWNER, s, "mult_sectors req_nb_sectors", 0, 16)
    require_range(OWNER, s, "end", 0, len(ENDS) - 1)
    require(len(s.buffer) == len(d.buffer), OWNER, f"a buffer of {len(s.buffer)} bytes")
    require(0 <= s.data_ptr <= s.data_end <= len(s.buffer), OWNER, "the DRQ block's bounds")
    require(len(s.identify) == 256, OWNER, "IDENTIFY is 256 words")
    require(all(0 <= w <= 0xFFFF for w in s.identify), OWNER, "an IDENTIFY word over 16 bits")
    require(s.sectors_read >= 0 and s.sectors_written >= 0, OWNER, "negative counts")


def _restore_drive(d: AtaDrive, s: AtaDriveState) -> None:
    for name in (*BYTES.split(), "nsector", "select", "status", "lba48", "mult_sectors"):
        setattr(d, name, getattr(s, name))
    d.req_nb_sectors, d.heads, d.spt, d.reset_reverts = (
        s.req_nb_sectors,
        s.heads,
        s.spt,
        s.reset_reverts,
    )
    d.end, d.data_ptr, d.data_end = ENDS[s.end], s.data_ptr, s.data_end
    d.buffer[:] = s.buffer
    d.identify = list(s.identify)
    d.sectors_read, d.sectors_written = s.sectors_read, s.sectors_written


def save_channels(channels: tuple[IdeChannel, ...]) -> IdeState:
    """Both channels' record."""
    a, b = (
        IdeChannelState(
            c.unit, c.cmd, c.irq_level, (save_drive(c.drives[0]), save_drive(c.drives[1]))
        )
        for c in channels
    )
    return IdeState((a, b))


def restore_channels(channels: tuple[IdeChannel, ...], state: IdeState) -> None:
    """Take `state` (checked whole before anything changes)."""
    state = check_record(state, IdeState, OWNER)
    for c, cs in zip(channels, state.channels, strict=True):
        require_range(OWNER, cs, "unit irq_level", 0, 1)
        require_range(OWNER, cs, "cmd", 0, 0xFF)
        for d, ds in zip(c.drives, cs.drives, strict=True):
            _check_drive(d, ds)
    for c, cs in zip(channels, state.channels, strict=True):
        c.unit, c.cmd, c.irq_level = cs.unit, cs.cmd, cs.irq_level
        for d, ds in zip(c.drives, cs.drives, strict=True):
            _restore_drive(d, ds)
