"""SummaryScreen: the inspector's summary panels (cache occupancy, hit rate, callouts by kind,
invalidations), shown over the block browser with `s`."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from bt.inspector.model import CacheFile, Summary


class SummaryScreen(Screen[None]):
    """The summary panels: cache occupancy, hit rate, callouts by kind, invalidations."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,s,q", "app.pop_screen", "Back to blocks"),
    ]

    def __init__(self, cf: CacheFile) -> None:
        super().__init__()
        self.cf = cf

    def compose(self) -> ComposeResult:
        s = self.cf.summary()
        yield Header()
        with Horizontal(id="panels-top"):
            yield Static(_occupancy_text(s), id="occupancy", classes="panel")
            yield Static(_hit_rate_text(s), id="hit-rate", classes="panel")
        with Horizontal(id="panels-bottom"):
            with Vertical(classes="panel"):
                yield Static(f"Callouts by kind ({s.callouts} in all)", classes="title")
                yield DataTable(id="callouts", cursor_type="row")
            with Vertical(classes="panel"):
                saved = self.cf.invalidations()
                yield Static(
                    f"Invalidations: {s.invalidations} in the run, the last {len(saved)} saved",
                    classes="title",
                )
                yield DataTable(id="invalidations", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        s = self.cf.summary()
        kinds = self.query_one("#callouts", DataTable)
        kinds.add_columns("kind", "count", "share")
        for kind, n in s.callouts_by_kind.items():
            share = f"{100 * n / s.callouts:.1f}%" if s.callouts else "-"
            kinds.add_row(kind, Text(str(n), justify="right"), Text(share, justify="right"))
        invs = self.query_one("#invalidations", DataTable)
        invs.add_columns("#", "reason", "page", "block eip", "cache addr")
        for inv in self.cf.invalidations():
            page = "-" if inv.page is None else f"0x{inv.page:08x}"
            invs.add_row(
                str(inv.seq), inv.reason, page, f"0x{inv.eip:08x}", f"0x{inv.code_addr:08x}"
            )


def _occupancy_text(s: Summary) -> str:
    rules = ", ".join(f"{r} {n}" for r, n in s.rules.items())
    return (
        f"Cache occupancy\n"
        f"{s.code_bytes} of {s.capacity} bytes: {100 * s.occupancy:.4f}%\n"
        f"{s.blocks} blocks, {s.guest_insns_translated} guest instructions\n"
        f"rules: {rules}"
    )


def _hit_rate_text(s: Summary) -> str:
    run = "not counted (run with --count-insns)" if s.guest_insns is None else str(s.guest_insns)
    return (
        f"Hit rate\n"
        f"{100 * s.hit_rate:.2f}%: {s.hits} of {s.lookups} lookups by the monitor\n"
        f"{s.translations} translations, {s.chains} chainings, {s.flushes} flushes\n"
        f"chained links now: {s.chained_links} of {s.links}; guest insns run: {run}"
    )
