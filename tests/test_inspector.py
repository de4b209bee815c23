"""The translation-cache inspector on real guest runs: API, terminal interface, HTML, drcov, DOT."""

from __future__ import annotations

import asyncio
import html
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from limits import HANG_GUARD, limit_args
from test_cachefile import run_and_save

from bt.inspector import open_cache
from bt.inspector.align import block_rows
from bt.inspector.model import CacheFile
from bt.inspector.tui import InspectorApp
from bt.tracefile import open_trace

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def bt(*args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bt.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        stdin=stdin,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


@dataclass(frozen=True)
class Run:
    """A guest run with its cache file and block-level trace."""

    cache: Path
    trace: Path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """io (no self-modifying code: no block is ever invalidated) and smc (which invalidates
    its own blocks), run once through the real command line, side by side."""
    tmp = tmp_path_factory.mktemp("runs")
    procs = {}
    for name in ("io", "smc"):
        run = Run(tmp / f"{name}.sqlite", tmp / f"{name}.trace")
        procs[name] = (
            run,
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bt.cli",
                    "run",
                    str(BIN / f"{name}.elf"),
                    "--serial",
                    "none",
                    "--count-insns",
                    "--save-cache",
                    str(run.cache),
                    "--trace",
                    str(run.trace),
                    "--trace-level",
                    "block",
                    *limit_args(name),
                ],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            ),
        )
    out = {}
    for name, (run, proc) in procs.items():
        _, err = proc.communicate(timeout=HANG_GUARD)
        assert proc.returncode == 1, err  # the guests report success with status 1
        out[name] = run
    return out


# -- the scripting API ---


def test_api_sees_every_block_of_a_run(tmp_path: Path) -> None:
    m, path = run_and_save(tmp_path, "usermode.elf", "usermode.sqlite")
    live = {(tb.key.eip, tb.code_addr, tb.size) for tb in m.cache.blocks()}
    with open_cache(str(path)) as cf:
        assert {(b.eip, b.code_addr, b.code_size) for b in cf.blocks()} == live
        assert len(cf) == len(live) > 20
        rules = set()
        for b in cf.blocks():
            insns = cf.insns(b.id)
            assert b"".join(i.raw for i in insns) == cf.guest_bytes(b.id)
            # The aligned rows cover the translation exactly, byte for byte and in order.
            rows = block_rows(cf, b.id)
            assert b"".join(r.translated.raw for r in rows if r.translated) == cf.code(b.id)
            assert {r.guest.index for r in rows if r.guest} == set(range(b.insn_count))
            assert all(i.reason for i in insns if i.rewritten)
            assert {r.exit.slot for r in rows if r.exit} == {lk.slot for lk in cf.links_out(b.id)}
            assert b in cf.search(f"0x{b.eip:x}")
            rules |= {i.rule for i in insns}
        assert rules == {"copy", "callout", "callout-exit", "branch", "indirect", "inline"}
        for lk in cf.links():
            if lk.dst is not None:
                assert lk in cf.links_in(lk.dst)
        hot = [b.hotness for b in cf.blocks(sort="hotness")]
        assert hot == sorted(hot, reverse=True) and hot[0] > 1
        addrs = [b.linear for b in cf.blocks(sort="address")]
        assert addrs == sorted(addrs)
        outs = cf.find_mnemonic("out")
        assert outs and all(any(i.mnemonic == "out" for i in cf.insns(b.id)) for b in outs)
        s = cf.summary()
        assert s.blocks == len(live) and s.callouts_by_kind["out"] > 0
        assert 0 < s.hit_rate <= 1 and s.invalidations > 0


# -- the terminal interface, driven headless ---


def screen_text(app: InspectorApp) -> str:
    """The characters on the app's screen, from its SVG screenshot (Textual's public export):
    each <text> run is put at its column (12.2 px per cell at Rich's export font)."""
    svg = app.export_screenshot()
    lines: dict[int, list[str]] = {}
    for m in re.finditer(
        r'<text[^>]*\bx="([\d.]+)"[^>]*clip-path="url\(#[\w-]+-line-(\d+)\)"'
        r"[^>]*>(.*?)</text>",
        svg,
    ):
        col, row = round(float(m.group(1)) / 12.2), int(m.group(2))
        text = html.unescape(m.group(3)).replace("\xa0", " ")
        line = lines.setdefault(row, [])
        line.extend(" " * (col + len(text) - len(line)))
        line[col : col + len(text)] = text
    return "\n".join("".join(lines[r]) for r in sorted(lines))


def list_rows(app: InspectorApp) -> list[tuple[int, str]]:
    """(block id, guest address) of each row of the block list, in order."""
    from textual.widgets import DataTable

    table = app.query_one("#blocks", DataTable)
    return [
        (int(str(table.get_row_at(i)[0]).lstrip("#")), str(table.get_row_at(i)[1]))
        for i in range(table.row_count)
    ]


def test_terminal_interface(runs: dict[str, Run]) -> None:
    cf = open_cache(str(runs["io"].cache))
    hottest = cf.blocks(sort="hotness")[0]
    # A block with a callout and a chained exit: the guest's serial-port polling loop.
    target = next(
        b
        for b in cf.blocks(sort="hotness")
        if any(i.rule == "callout" for i in cf.insns(b.id))
        and any(lk.dst is not None and lk.slot < 10 for lk in cf.links_out(b.id))
    )
    callout = next(i for i in cf.insns(target.id) if i.rule == "callout")
    link = next(lk for lk in cf.links_out(target.id) if lk.dst is not None and lk.slot < 10)

    async def drive() -> None:
        from textual.widgets import DataTable, Static

        app = InspectorApp(cf)
        async with app.run_test(size=(200, 50)) as pilot:
            await pilot.pause()
            screen = screen_text(app)
            # Every block is in the list, hottest first, and the hottest is open.
            assert {bid for bid, _ in list_rows(app)} == {b.id for b in cf.blocks()}
            assert list_rows(app)[0][0] == hottest.id
            assert f"{len(cf)} blocks, by hotness" in screen
            assert f"Block #{hottest.id}  guest 0x{hottest.eip:08x}" in screen
            assert re.search(rf"#{hottest.id}\s+0x{hottest.linear:08x}", screen)

            # Sorting: by address (then reversed), by size.
            await pilot.press("a")
            rows = list_rows(app)
            assert [a for _, a in rows] == sorted(a for _, a in rows)
            assert "by address ^" in screen_text(app)
            await pilot.press("a")
            assert list_rows(app)[0][1] == max(a for _, a in rows)
            await pilot.press("z")
            sizes = [cf.block(bid).code_size for bid, _ in list_rows(app)]
            assert sizes == sorted(sizes, reverse=True)
            assert re.search(
                rf"#{list_rows(app)[0][0]}\s+0x[0-9a-f]{{8}}\s+\d+\s+{sizes[0]}\b", screen_text(app)
            )

            # Search by the address of an instruction inside the block: the list narrows to
            # it and the block opens with guest and translated code side by side.
            await pilot.press("slash", *f"{callout.eip:x}", "enter")
            await pilot.pause()
            assert [bid for bid, _ in list_rows(app)] == [b.id for b in cf.blocks_at(callout.eip)]
            screen = screen_text(app)
            assert f"Block #{target.id}  guest 0x{target.eip:08x}" in screen
            side = (
                re.escape(callout.text)
                + r"\s+callout\s+->\s+"
                + f"0x{callout.translated[0].address:08x}\\s+"
                + re.escape(callout.translated[0].text)
                + r"\s+"
                + re.escape(callout.kind + ":")
            )
            assert re.search(side, screen), screen
            # The cursor stands on that instruction, and the panel below gives the full reason.
            why = str(app.query_one("#why", Static).render())
            assert callout.reason in why and "[callout" in why
            assert callout.reason[:40] in screen_text(app)
            # Every copied instruction shows its own bytes again on the right.
            for insn in cf.insns(target.id):
                if insn.rule == "copy":
                    assert re.search(
                        re.escape(insn.text)
                        + r"\s+copy\s+->\s+0x[0-9a-f]{8}\s+"
                        + re.escape(insn.text),
                        screen,
                    )

            # A chain link, followed by its slot number, and back.
            await pilot.press(str(link.slot))
            screen = screen_text(app)
            dst = cf.block(link.dst or 0)
            assert f"Block #{dst.id}  guest 0x{dst.eip:08x}" in screen
            assert f"back (b): #{target.id}" in screen
            await pilot.press("b")
            assert f"Block #{target.id}  guest 0x{target.eip:08x}" in screen_text(app)
            # An exit row in the block view, selected with enter, follows its link too.
            side_table = app.query_one("#side", DataTable)
            row = next(n for n, r in enumerate(app.rows) if r.exit == link)
            side_table.focus()
            side_table.move_cursor(row=row)
            await pilot.pause()
            assert f"exit slot {link.slot}: " in str(app.query_one("#why", Static).render())
            await pilot.press("enter")
            assert f"Block #{dst.id}  guest" in screen_text(app)
            # p goes to a block chained into this one.
            await pilot.press("p")
            srcs = {lk.src for lk in cf.links_in(dst.id)}
            assert app.current in srcs

            # Search by mnemonic; escape lists every block again.
            await pilot.press("slash", *"out", "enter")
            await pilot.pause()
            assert {bid for bid, _ in list_rows(app)} == {b.id for b in cf.find_mnemonic("out")}
            assert "matching 'out'" in screen_text(app)
            await pilot.press("slash", "escape")
            assert len(list_rows(app)) == len(cf)

            # The summary panels.
            await pilot.press("s")
            await pilot.pause()
            screen = screen_text(app)
            s = cf.summary()
            for words in (
                "Cache occupancy",
                f"{s.code_bytes} of {s.capacity} bytes",
                "Hit rate",
                f"{s.hits} of {s.lookups} lookups",
                "Callouts by kind",
                f"Invalidations: {s.invalidations} in the run",
            ):
                assert words in screen, words
            top_kind, top_n = next(iter(s.callouts_by_kind.items()))
            assert re.search(rf"{top_kind}\s+{top_n}\b", screen)
            await pilot.press("escape")
            # Every block opens: its view has one row per translated instruction.
            for b in cf.blocks():
                app.show_block(b.id)
                assert app.query_one("#side", DataTable).row_count == len(block_rows(cf, b.id))

    asyncio.run(drive())
    cf.close()


def _rows_whole(screen: str, cf: CacheFile, block_id: int, cache_addr: bool) -> int:
    """How many of the block's instruction rows are on the screen with the guest instruction
    and its whole translation side by side (and the cache address when it is shown)."""
    whole = 0
    for r in block_rows(cf, block_id):
        if r.guest is None or r.translated is None:
            continue
        pattern = (
            re.escape(f"0x{r.guest.eip:08x}")
            + r"\s+"
            + re.escape(r.guest.text)
            + r"\s+"
            + re.escape(r.guest.rule)
            + r"\s+->\s+"
            + (re.escape(f"0x{r.translated.address:08x}") + r"\s+" if cache_addr else "")
            + re.escape(r.translated.text)
            + r"\s*(?:│|$)"
        )
        whole += bool(re.search(pattern, screen, re.MULTILINE))
    return whole


def test_terminal_interface_at_80x24_and_120x30(runs: dict[str, Run]) -> None:
    cf = open_cache(str(runs["io"].cache))
    hottest = cf.blocks(sort="hotness")[0]
    guest_rows = sum(
        1 for r in block_rows(cf, hottest.id) if r.guest is not None and r.translated is not None
    )
    assert guest_rows >= 4

    async def drive() -> None:
        from textual.widgets import Static

        app = InspectorApp(cf)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            # One pane at a time: the list first, every column of it.
            screen = screen_text(app)
            assert re.search(
                rf"#{hottest.id}\s+0x{hottest.linear:08x}\s+{hottest.insn_count}"
                rf"\s+{hottest.code_size}\s+{hottest.hotness}\b",
                screen,
            )
            await pilot.press("enter")
            await pilot.pause()
            screen = screen_text(app)
            assert f"Block #{hottest.id}  guest 0x{hottest.eip:08x}" in screen
            assert _rows_whole(screen, cf, hottest.id, cache_addr=False) == guest_rows, screen
            # The cache address left out of the rows is in the panel below them.
            first = block_rows(cf, hottest.id)[0]
            assert first.translated is not None
            why = str(app.query_one("#why", Static).render())
            assert f"cache 0x{first.translated.address:08x}" in why
            await pilot.press("l")
            await pilot.pause()
            assert f"Block #{hottest.id}  guest" not in screen_text(app)
            assert f"#{hottest.id}" in screen_text(app)
        app = InspectorApp(cf)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause()
            # Side by side: the compact list and the block view with cache addresses.
            screen = screen_text(app)
            assert re.search(
                rf"#{hottest.id}\s+0x{hottest.linear:08x}\s+{hottest.hotness}\b", screen
            )
            assert f"Block #{hottest.id}  guest 0x{hottest.eip:08x}" in screen
            assert _rows_whole(screen, cf, hottest.id, cache_addr=True) == guest_rows, screen

    asyncio.run(drive())
    cf.close()


# -- the HTML report in a real browser ---


def _png_info(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values of the image data (a blank page
    compresses to a handful)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        if data[pos + 4 : pos + 8] == b"IDAT":
            idat += data[pos + 8 : pos + 8 + n]
        pos += 12 + n
    return width, height, len(set(zlib.decompress(idat)))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (CI installs it)")
def test_html_report_in_headless_chromium(runs: dict[str, Run], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    proc = bt("inspect", str(runs["io"].cache), "--html", str(out))
    assert proc.returncode == 0, proc.stderr
    cf = open_cache(str(runs["io"].cache))
    target = next(
        b for b in cf.blocks(sort="hotness") if any(i.rule == "callout" for i in cf.insns(b.id))
    )
    callout = next(i for i in cf.insns(target.id) if i.rule == "callout")
    url = out.as_uri() + f"#b{target.id}"

    def chromium(profile: str, *args: str) -> subprocess.Popen[bytes]:
        assert CHROMIUM is not None
        return subprocess.Popen(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp_path / profile}",
                "--window-size=1400,1000",
                *args,
                url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    png = tmp_path / "report.png"
    shot = chromium("p1", f"--screenshot={png}")
    dump = chromium("p2", "--dump-dom")
    dom = dump.communicate(timeout=HANG_GUARD)[0].decode("utf-8")
    shot.communicate(timeout=HANG_GUARD)
    assert shot.returncode == 0 and dump.returncode == 0

    width, height, values = _png_info(png.read_bytes())
    assert (width, height) == (1400, 1000)
    assert png.stat().st_size > 50_000 and values > 100

    # The block list: one row per block.
    body = dom[dom.index('<table id="blocks"') :]
    body = body[: body.index("</table>")]
    assert len(re.findall(r"<tr data-id=", body)) == len(cf)
    # The graph: an SVG with a node per block (at most the 80 hottest) and edges.
    graph = dom[dom.index('<svg id="graph"') :]
    graph = graph[: graph.index("</svg>")]
    nodes = re.findall(r'<g class="node( sel)?" data-id="(\d+)"', graph)
    assert len(nodes) == min(80, len(cf))
    assert [bid for sel, bid in nodes if sel] == [str(target.id)]  # the block opened
    assert re.search(r'<path class="edge"', graph)
    # The block named in the URL is the one shown, side by side, with the callout's reason.
    shown = re.findall(r'<div class="view shown" id="view-(\d+)">', dom)
    assert shown == [str(target.id)]
    view = dom[dom.index(f'<div class="view shown" id="view-{target.id}">') :]
    view = view[: view.index("</table>")]
    row = re.search(r'<tr class="r-callout">(.*?)</tr>', view)
    assert row is not None
    cells = [
        html.unescape(re.sub("<[^>]+>", "", c))
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1))
    ]
    assert callout.text in cells and callout.translated[0].text in cells
    assert any(callout.reason in c for c in cells)
    assert "chained to #" in view
    cf.close()


# -- drcov coverage against the trace ---


@dataclass(frozen=True)
class Drcov:
    modules: list[dict[str, str]]
    bbs: list[tuple[int, int, int]]  # (start, size, mod_id)


def read_drcov(path: Path) -> Drcov:
    """A reader written from the drcov format description: text header, module table
    version 2, then `BB Table: N bbs` and N binary entries {uint32 start; uint16 size;
    uint16 mod_id}, little-endian."""
    data = path.read_bytes()
    lines: list[str] = []
    pos = 0
    while not (lines and lines[-1].startswith("BB Table:")):
        end = data.index(b"\n", pos)
        lines.append(data[pos:end].decode("utf-8"))
        pos = end + 1
    assert lines[0] == "DRCOV VERSION: 2"
    assert lines[1].startswith("DRCOV FLAVOR: ")
    m = re.fullmatch(r"Module Table: version 2, count (\d+)", lines[2])
    assert m is not None
    count = int(m.group(1))
    assert lines[3].startswith("Columns: ")
    columns = [c.strip() for c in lines[3].removeprefix("Columns: ").split(",")]
    assert columns[:4] == ["id", "base", "end", "entry"] and columns[-1] == "path"
    modules = [
        dict(zip(columns, (c.strip() for c in ln.split(",", len(columns) - 1)), strict=True))
        for ln in lines[4 : 4 + count]
    ]
    assert len(lines) == 5 + count
    m = re.fullmatch(r"BB Table: (\d+) bbs", lines[-1])
    assert m is not None
    n = int(m.group(1))
    assert len(data) - pos == 8 * n
    bbs = [struct.unpack_from("<IHH", data, pos + 8 * i) for i in range(n)]
    return Drcov(modules, bbs)


def executed_blocks(trace: Path) -> set[tuple[int, int]]:
    """(start, size) of every guest block a block-level trace says was executed."""
    header, records = open_trace(str(trace))
    assert header.level == "block"
    return {
        (r.eip, r.end - r.eip)
        for r in records
        if r.kind == "exec" and r.eip is not None and r.end is not None
    }


def test_drcov_blocks_equal_the_executed_blocks(runs: dict[str, Run], tmp_path: Path) -> None:
    out = tmp_path / "io.drcov"
    proc = bt("inspect", str(runs["io"].cache), "--drcov", str(out))
    assert proc.returncode == 0, proc.stderr
    cov = read_drcov(out)
    assert len(cov.modules) == 1 and cov.modules[0]["path"].endswith("io.elf")
    base = int(cov.modules[0]["base"], 16)
    assert all(mod == 0 for _, _, mod in cov.bbs)
    listed = {(base + start, size) for start, size, _ in cov.bbs}
    assert len(listed) == len(cov.bbs)
    assert listed == executed_blocks(runs["io"].trace)
    # The hit counts beside it: one row per bb, in order, with the blocks' execution counts.
    hits = (tmp_path / "io.drcov.hits.csv").read_text().splitlines()
    assert hits[0] == "start,size,hits,block"
    with open_cache(str(runs["io"].cache)) as cf:
        for (start, size, _), line in zip(cov.bbs, hits[1:], strict=True):
            s, z, h, bid = line.split(",")
            b = cf.block(int(bid))
            assert (int(s, 16), int(z)) == (start, size) == (b.linear, b.guest_size)
            assert int(h) == b.executions and int(h) > 0


def test_drcov_after_self_modifying_code(runs: dict[str, Run], tmp_path: Path) -> None:
    """A cache file holds the blocks live at the end of the run: the blocks the guest killed by
    writing its own code are missing from the coverage, and the file's invalidation history
    names each of them."""
    out = tmp_path / "smc.drcov"
    assert bt("inspect", str(runs["smc"].cache), "--drcov", str(out)).returncode == 0
    listed = {(start, size) for start, size, _ in read_drcov(out).bbs}
    executed = executed_blocks(runs["smc"].trace)
    with open_cache(str(runs["smc"].cache)) as cf:
        killed = {inv.eip for inv in cf.invalidations() if inv.reason.startswith("guest write")}
    assert listed <= executed
    assert executed - listed and {start for start, _ in executed - listed} <= killed


def test_dot_graph(runs: dict[str, Run], tmp_path: Path) -> None:
    out = tmp_path / "io.dot"
    assert bt("inspect", str(runs["io"].cache), "--dot", str(out)).returncode == 0
    text = out.read_text()
    assert text.startswith('digraph "bt-cache" {') and text.rstrip().endswith("}")
    with open_cache(str(runs["io"].cache)) as cf:
        nodes = set(re.findall(r"^  b(\d+) \[label=", text, re.M))
        assert nodes == {str(b.id) for b in cf.blocks()}
        for lk in cf.links():
            if lk.dst is not None:
                assert re.search(
                    rf"^  b{lk.src} -> b{lk.dst} \[label=\"{lk.edge}\".*"
                    r"style=solid\];$",
                    text,
                    re.M,
                )


# -- bad input ---


def one_line_error(proc: subprocess.CompletedProcess[str], words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert words in lines[0], lines[0]


def _foreign_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t(x)")
    db.commit()
    db.close()


def _other_version(runs: dict[str, Run], path: Path) -> None:
    shutil.copy(runs["io"].cache, path)
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'version'")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    ("make", "args", "words"),
    [
        (None, ["--html", "{tmp}/o.html"], "no such file"),
        (
            lambda r, p: p.write_bytes(b"DRCOV VERSION: 2\n" * 50),
            ["--dot", "{tmp}/o"],
            "not an SQLite file",
        ),
        (lambda r, p: _foreign_sqlite(p), ["--drcov", "{tmp}/o"], "not a bt-cache file"),
        (_other_version, ["--html", "{tmp}/o"], "bt-cache version 99"),
        ("io", ["--html", "{tmp}/missing/dir/o.html"], "--html: cannot write"),
        ("io", ["--drcov", "{tmp}"], "--drcov: cannot write"),
        ("io", [], "needs a terminal"),
    ],
)
def test_inspect_bad_input(
    runs: dict[str, Run], tmp_path: Path, make: object, args: list[str], words: str
) -> None:
    path = tmp_path / "c.sqlite"
    if make == "io":
        path = runs["io"].cache
    elif callable(make):
        make(runs, path)
    proc = bt("inspect", str(path), *(a.format(tmp=tmp_path) for a in args))
    one_line_error(proc, words)


def test_run_inspect_needs_a_terminal_before_running(tmp_path: Path) -> None:
    proc = bt("run", str(BIN / "io.elf"), "--inspect", "--save-cache", str(tmp_path / "c"))
    one_line_error(proc, "--inspect opens an interactive view and needs a terminal")
    assert proc.stdout == "" and not os.path.exists(tmp_path / "c")


def test_cachefile_is_read_only(runs: dict[str, Run]) -> None:
    """Opening a cache file never changes it (the inspector may browse a colleague's file)."""
    before = runs["io"].cache.read_bytes()
    with open_cache(str(runs["io"].cache)) as cf:
        assert isinstance(cf, CacheFile) and cf.summary().blocks == len(cf)
    assert runs["io"].cache.read_bytes() == before
