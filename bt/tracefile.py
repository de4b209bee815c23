"""bt-trace files: what a guest executed, as streaming JSON Lines (gzip when named *.gz).

Format, version 1. The first line is a header object:

    {"format": "bt-trace", "version": 1, "level": "block" | "insn", "source": "bt",
     "guest": "<path>", "regs": ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
                                  "eflags", "cs", "ss", "ds", "es", "fs", "gs", "cr0", "cr3"]}

Every following line is one JSON array:

    ["x", eip, [values in header order]]   the guest executed the block (or instruction) at
                                           eip, with these guest-visible registers before it
    ["x", eip, [values], end]              (block level) the block's guest code ends at `end`;
                                           it lets a block trace be aligned with an
                                           instruction trace (a fall-through into a loop head
                                           is not a block start)
    ["x", eip, [values], end, true]        (block level) as above, and the previous block was
                                           cut short before `eip` (a self-modifying write
                                           re-runs as its own block; the monitor resumed
                                           after a callout inside the block; an instruction
                                           ran alone to end an STI/MOV SS shadow)
    ["o", port, size, value]               port output
    ["i", port, size, value]               port input (the value the guest received)
    ["v", vector, error_code_or_null, eip] an interrupt or exception delivered to the guest

Only guest-visible state is written (EFLAGS as the guest sees it, the guest's selectors and
control registers), never an address of the monitor's. Records are written and read one at a
time, so a trace of any length needs constant memory.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from bt.errors import BadInput

FORMAT = "bt-trace"
VERSION = 1
# What a disk boot's trace records by default, under bt and under QEMU (-dfilter): conventional
# memory below the EBDA, the guest's code; the BIOS's runs outside it, so a BIOS call is one
# step of the guest's trace (bt's services run in the monitor, SeaBIOS's in the F segment).
BOOT_WINDOW = (0x500, 0x9FC00)
REGS = (
    "eax",
    "ecx",
    "edx",
    "ebx",
    "esp",
    "ebp",
    "esi",
    "edi",
    "eflags",
    "cs",
    "ss",
    "ds",
    "es",
    "fs",
    "gs",
    "cr0",
    "cr3",
)


class TraceFileError(BadInput):
    """A trace file is missing, unreadable or not a bt-trace."""


@dataclass(frozen=True, slots=True)
class TraceHeader:
    """The first line of a trace."""

    level: str
    source: str
    guest: str
    regs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One event: kind is "exec", "out", "in" or "int"."""

    kind: str
    eip: int | None = None
    regs: tuple[int, ...] | None = None
    port: int | None = None
    size: int | None = None
    value: int | None = None
    vector: int | None = None
    error_code: int | None = None
    end: int | None = None  # block records: the guest address after the block's code
    cut: bool = False  # block records: the previous block stopped before this one's eip


def _open(path: str, mode: str) -> IO[str]:
    if path.endswith(".gz"):
        return gzip.open(path, mode + "t", encoding="ascii")  # type: ignore[return-value]
    return open(path, mode, encoding="ascii")  # noqa: SIM115 - the caller closes it


class TraceWriter:
    """Writes a trace record by record."""

    def __init__(self, path: str, level: str, source: str, guest: str) -> None:
        self._fh = _open(path, "w")
        header = {
            "format": FORMAT,
            "version": VERSION,
            "level": level,
            "source": source,
            "guest": guest,
            "regs": list(REGS),
        }
        self._fh.write(json.dumps(header) + "\n")
        self.records = 0

    def _line(self, item: list[Any]) -> None:
        self._fh.write(json.dumps(item, separators=(",", ":")) + "\n")
        self.records += 1

    def exec(
        self,
        eip: int,
        values: list[int],
        end: int | None = None,
        cut: bool = False,
    ) -> None:
        """The guest is about to execute the block or instruction at `eip` (a block's guest
        code ending at `end`; `cut`: the previous block stopped before `eip`)."""
        if end is None:
            self._line(["x", eip, values])
        else:
            self._line(["x", eip, values, end, True] if cut else ["x", eip, values, end])

    def io_out(self, port: int, size: int, value: int) -> None:
        """Port output."""
        self._line(["o", port, size, value])

    def io_in(self, port: int, size: int, value: int) -> None:
        """Port input."""
        self._line(["i", port, size, value])

    def interrupt(self, vector: int, error_code: int | None, eip: int) -> None:
        """An interrupt or exception delivered."""
        self._line(["v", vector, error_code, eip])

    def close(self) -> None:
        """Flush and close."""
        self._fh.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _record(item: list[Any]) -> TraceRecord:
    tag = item[0]
    if tag == "x":
        return TraceRecord(
            "exec",
            eip=item[1],
            regs=tuple(item[2]),
            end=item[3] if len(item) > 3 else None,
            cut=len(item) > 4 and item[4] is True,
        )
    if tag in ("o", "i"):
        return TraceRecord("out" if tag == "o" else "in", port=item[1], size=item[2], value=item[3])
    if tag == "v":
        return TraceRecord("int", vector=item[1], error_code=item[2], eip=item[3])
    raise ValueError(f"unknown record {tag!r}")


GZIP_MAGIC = b"\x1f\x8b"
HEADER_MAX = 1 << 16  # a header line is ~200 bytes: more means the file is something else


def _open_read(path: str) -> IO[str]:
    """Open for reading, gzip or not by the file's first bytes (whatever its name)."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rt", encoding="ascii")
    return open(path, encoding="ascii")  # noqa: SIM115 - the caller closes it


def open_trace(path: str) -> tuple[TraceHeader, Iterator[TraceRecord]]:
    """The header and a lazy iterator over the records of the trace at `path`."""
    try:
        fh = _open_read(path)
    except FileNotFoundError:
        raise TraceFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TraceFileError(f"{path}: is a directory, not a trace") from None
    except OSError as exc:
        raise TraceFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        first = fh.readline(HEADER_MAX)
        head = json.loads(first)
        if not isinstance(head, dict) or head.get("format") != FORMAT:
            raise ValueError("its first line is no bt-trace header")
        if head.get("version") != VERSION:
            raise ValueError(f"version {head.get('version')} (this bt reads {VERSION})")
        header = TraceHeader(head["level"], head["source"], head["guest"], tuple(head["regs"]))
    except (OSError, EOFError, UnicodeDecodeError):
        fh.close()
        raise TraceFileError(
            f"{path}: not a bt-trace file (binary data; record one with "
            "bt run --trace or bt trace qemu)"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        fh.close()
        reason = "not JSON" if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise TraceFileError(
            f"{path}: not a bt-trace file ({reason}; record one with "
            "bt run --trace or bt trace qemu)"
        ) from None

    def records() -> Iterator[TraceRecord]:
        n = 1
        with fh:
            try:
                for n, line in enumerate(fh, start=2):  # noqa: B007 - n names the bad line
                    item = json.loads(line)
                    if not isinstance(item, list):
                        raise ValueError("not an array")
                    yield _record(item)
            except (ValueError, IndexError, TypeError):
                raise TraceFileError(f"{path}:{n}: malformed record") from None
            except (OSError, EOFError, UnicodeDecodeError):
                raise TraceFileError(
                    f"{path}:{n}: cannot read (truncated or binary data)"
                ) from None

    return header, records()
