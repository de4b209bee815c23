"""`bt inspect FILE [--html OUT] [--dot OUT] [--drcov OUT]` and `bt run --inspect`: the CLI glue.

With an export option the command writes the files and exits; without one it opens the
terminal interface, which needs a terminal. Bad input (a missing or foreign cache file, an
output that cannot be written, no terminal) is a BadInput: one line and exit status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable

from bt.errors import BadInput, OptionError
from bt.inspector.model import CacheFile, open_cache


def check_terminal(what: str) -> None:
    """Refuse to start the terminal interface when stdin or stdout is not a terminal (it
    would hang on a pipe or draw escape codes into a file)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise OptionError(
            f"{what} opens an interactive view and needs a terminal "
            "(for files, use bt inspect FILE --html/--dot/--drcov OUT)"
        )


def run_tui(cf: CacheFile) -> None:
    """Open the terminal interface on `cf` until the user quits."""
    from bt.inspector.tui import InspectorApp  # Textual is loaded only for the interface

    InspectorApp(cf).run()


def _write(option: str, out: str, write: Callable[[str], object]) -> None:
    try:
        write(out)
    except OSError as exc:
        raise BadInput(f"{option}: cannot write {out}: {exc.strerror or exc}") from None


def export(cf: CacheFile, html: str | None, dot: str | None, drcov: str | None) -> list[str]:
    """Write the exports asked for; returns a line per file written."""
    done = []
    if html is not None:
        from bt.inspector.html import write_html

        _write("--html", html, lambda out: write_html(cf, out))
        done.append(f"{html}: HTML report, {len(cf)} blocks")
    if dot is not None:
        from bt.inspector.dot import write_dot

        _write("--dot", dot, lambda out: write_dot(cf, out))
        done.append(f"{dot}: Graphviz chain graph")
    if drcov is not None:
        from bt.inspector.drcov import write_drcov

        result: list[tuple[str, int]] = []
        _write("--drcov", drcov, lambda out: result.append(write_drcov(cf, out)))
        hits, n = result[0]
        done.append(f"{drcov}: drcov coverage, {n} blocks; {hits}: hit counts")
    return done


def cmd_inspect(args: argparse.Namespace) -> int:
    """`bt inspect FILE ...`: 0 when done, BadInput (status 2) for bad input."""
    exporting = any(x is not None for x in (args.html, args.dot, args.drcov))
    with open_cache(args.file) as cf:
        if not exporting:
            check_terminal("bt inspect")
        if exporting:
            for line in export(cf, args.html, args.dot, args.drcov):
                sys.stderr.write(f"bt: wrote {line}\n")
        else:
            run_tui(cf)
    return 0


def temporary_cache_path() -> str:
    """A fresh file name for `bt run --inspect` without --save-cache (removed afterwards)."""
    fd, path = tempfile.mkstemp(prefix="bt-cache-", suffix=".sqlite")
    os.close(fd)
    return path


def inspect_after_run(path: str, temporary: bool) -> None:
    """`bt run --inspect`: open the interface on the cache file just saved at `path`."""
    try:
        with open_cache(path) as cf:
            run_tui(cf)
    finally:
        if temporary:
            os.unlink(path)
