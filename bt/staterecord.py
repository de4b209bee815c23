"""State records: the check every `restore` makes before it touches a device, the vCPU or a clock.

A state record is a frozen dataclass (slots) of plain data only: int, bool, bytes, None, tuples
of those and nested state records, so that the snapshot issue can pickle or JSON it as it is.
Each record has a `version` field whose default is the record's current version: a record from
an older layout is refused, not guessed at. `check_record` walks the record against its type
hints (exact types: a bool is not an int here, a list is not a tuple) and the versions of every
nested record, and raises `StateError` naming the owner and the field that is wrong.
"""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

from bt.errors import InternalError, StateError

R = TypeVar("R")

_hints_cache: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _hints_cache.get(cls)
    if hints is None:
        hints = _hints_cache[cls] = typing.get_type_hints(cls)
    return hints


def current_version(cls: type) -> int:
    """The version a record class writes now (the default of its `version` field)."""
    for f in fields(cls):
        if f.name == "version" and f.default is not MISSING and isinstance(f.default, int):
            return f.default
    raise InternalError(f"{cls.__name__} is not a state record: it has no default version")


def check_record(record: object, cls: type[R], owner: str) -> R:
    """`record` itself if it is a well-formed `cls` of the current version, else StateError."""
    if type(record) is not cls:
        raise StateError(
            f"{owner}: cannot restore from {type(record).__name__}, expected {cls.__name__}"
        )
    _check(record, cls, owner)
    return record


def _check(value: object, hint: Any, where: str) -> None:
    """Raise StateError unless `value` is exactly of the type `hint` says."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        for arm in typing.get_args(hint):
            try:
                _check(value, arm, where)
                return
            except StateError:
                continue
        raise StateError(f"{where}: {value!r} is not {hint}")
    if origin is tuple:
        if type(value) is not tuple:
            raise StateError(f"{where}: expected a tuple, got {type(value).__name__}")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            for i, item in enumerate(value):
                _check(item, args[0], f"{where}[{i}]")
            return
        if len(args) != len(value):
            raise StateError(f"{where}: expected {len(args)} items, got {len(value)}")
        for i, (item, arm) in enumerate(zip(value, args, strict=True)):
            _check(item, arm, f"{where}[{i}]")
        return
    if hint is None or hint is type(None):
        if value is not None:
            raise StateError(f"{where}: expected None, got {value!r}")
        return
    if isinstance(hint, type) and is_dataclass(hint):
        if type(value) is not hint:
            raise StateError(f"{where}: expected {hint.__name__}, got {type(value).__name__}")
        version = current_version(hint)
        got = getattr(value, "version", None)
        if got != version:
            raise StateError(f"{where}: {hint.__name__} version {got!r}, this bt reads {version}")
        for name, arm in _hints(hint).items():
            _check(getattr(value, name), arm, f"{where}.{name}")
        return
    if hint in (int, bool, bytes):
        if type(value) is not hint:
            raise StateError(f"{where}: expected {hint.__name__}, got {type(value).__name__}")
        return
    raise StateError(f"{where}: a state record may not hold {hint!r}")


def require(ok: bool, owner: str, what: str) -> None:
    """StateError `owner: what` unless `ok` (range checks a type cannot say)."""
    if not ok:
        raise StateError(f"{owner}: malformed state: {what}")


def require_range(owner: str, record: object, names: str, lo: int, hi: int) -> None:
    """StateError unless each field in `names` (space-separated) lies in [lo, hi]."""
    for name in names.split():
        value = getattr(record, name)
        if not lo <= value <= hi:
            raise StateError(
                f"{owner}: malformed state: {name} = {value:#x} not in [{lo:#x}, {hi:#x}]"
            )
