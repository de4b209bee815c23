"""InspectorApp: the terminal interface of `bt inspect FILE` (Textual), over a CacheFile.

The main screen holds the block list (left) and the block view (right): guest instructions
beside their translation, one row per translated instruction (bt/inspector/align.py), rewritten
instructions coloured by rule with their reason, then the exit slots with their links. The
summary screen holds the panels: cache occupancy, hit rate, callouts by kind, invalidations.

Keys: a/h/z/c sort the list by address, hotness, size, callouts (again: reverse); / searches
by guest address or mnemonic (escape clears); 0-9 or enter on an exit row follow that exit
slot's link; p goes to the hottest block chained into this one; b or backspace
goes back; s shows the summary; l shows the list (below 120 columns the list and the block view
take the screen in turn); q quits.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Input, Static

from bt.inspector.align import Row, block_rows, describe_link, link_target
from bt.inspector.blockview import links_text, side_cells
from bt.inspector.model import Block, CacheFile, Link, SortKey, parse_address
from bt.inspector.summary import SummaryScreen
from bt.inspector.tuilayout import (
    INSPECTOR_CSS,
    SHORT,
    SIDE_COLUMNS,
    SPLIT,
    WIDE,
    columns_for,
)
from bt.inspector.tuitext import block_heading, explain, list_cells

_DEFAULT_DESC: dict[SortKey, bool] = {
    "address": False,
    "hotness": True,
    "size": True,
    "callouts": True,
}


class InspectorApp(App[None]):
    """Browse the blocks of one cache file."""

    TITLE = "bt inspect"
    CSS = INSPECTOR_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "sort('address')", "Address"),
        Binding("h", "sort('hotness')", "Hotness"),
        Binding("z", "sort('size')", "Size"),
        Binding("c", "sort('callouts')", "Callouts"),
        Binding("slash", "search", "Search"),
        Binding("escape", "clear_search", "Clear", show=False),
        Binding("p", "follow_in", "Chained in"),
        Binding("b,backspace", "go_back", "Back"),
        Binding("s", "summary", "Summary"),
        Binding("l", "show_list", "List"),
        Binding("q", "quit", "Quit"),
        *(Binding(str(n), f"follow({n})", f"Follow link {n}", show=False) for n in range(10)),
    ]

    def __init__(self, cf: CacheFile) -> None:
        super().__init__()
        self.cf = cf
        self.sort: SortKey = "hotness"
        self.descending = True
        self.shown: list[Block] = cf.blocks(sort="hotness")  # the list as filtered and sorted
        self.query_text = ""
        self.current: int | None = None
        self.history: list[int] = []
        self.rows: list[Row] = []
        self.list_columns: tuple[str, ...] = ()
        self.side_columns: tuple[str, ...] = ()

    # -- layout ---
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="left"):
                yield Input(
                    placeholder="guest address (hex) or mnemonic, enter to search", id="search"
                )
                yield DataTable(id="blocks", cursor_type="row", zebra_stripes=True)
            with Vertical(id="right"):
                yield Static(id="head")
                yield DataTable(id="side", cursor_type="row")
                yield Static(id="why")
                with VerticalScroll(id="links"):
                    yield Static(id="links-text")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        s = self.cf.summary()
        self.sub_title = f"{s.guest}: {s.blocks} blocks"
        self.query_one("#status", Static).update(
            f"{s.blocks} blocks · occupancy {100 * s.occupancy:.4f}% · hit rate "
            f"{100 * s.hit_rate:.2f}% · {s.callouts} callouts · {s.invalidations} "
            "invalidations · s: summary"
        )
        self.add_class("list-pane")
        self._lay_out(self.size.width, self.size.height)
        if self.shown:
            self.show_block(self.shown[0].id, remember=False)
        self.query_one("#blocks", DataTable).focus()

    # -- layout by terminal size ---
    def on_resize(self, event: events.Resize) -> None:
        self._lay_out(event.size.width, event.size.height)

    def _lay_out(self, width: int, height: int) -> None:
        """Choose panes and columns for a terminal of `width` x `height` cells."""
        self.set_class(width < SPLIT, "narrow")
        self.set_class(SPLIT <= width < WIDE, "compact")
        self.set_class(height < SHORT, "short")
        lists, side = columns_for(width)
        if lists != self.list_columns:
            self.list_columns = lists
            table = self.query_one("#blocks", DataTable)
            table.clear(columns=True)
            table.add_columns(*lists)
            self._fill_list()
        if side != self.side_columns:
            self.side_columns = side
            table = self.query_one("#side", DataTable)
            table.clear(columns=True)
            table.add_columns(*side)
            self._fill_side()

    def _show_pane(self, pane: str) -> None:
        self.set_class(pane == "list", "list-pane")
        self.set_class(pane == "block", "block-pane")

    def action_show_list(self) -> None:
        """Go to the block list (below SPLIT columns it replaces the block view)."""
        self._show_pane("list")
        self.query_one("#blocks", DataTable).focus()

    # -- the block list ---
    def _fill_list(self) -> None:
        table = self.query_one("#blocks", DataTable)
        table.clear()
        for b in self.shown:
            cells = list_cells(b)
            table.add_row(*(cells[c] for c in self.list_columns), key=str(b.id))
        arrow = "v" if self.descending else "^"
        where = f" matching {self.query_text!r}" if self.query_text else ""
        self.query_one(
            "#left", Vertical
        ).border_title = f"{len(self.shown)} blocks{where}, by {self.sort} {arrow}"
        self._sync_list_cursor()

    def _sync_list_cursor(self) -> None:
        if self.current is None:
            return
        table = self.query_one("#blocks", DataTable)
        for i, b in enumerate(self.shown):
            if b.id == self.current:
                table.move_cursor(row=i)
                return

    def action_sort(self, key: SortKey) -> None:
        """Sort the list by `key`; the same key again reverses the order."""
        self.descending = not self.descending if key == self.sort else _DEFAULT_DESC[key]
        self.sort = key
        ids = {b.id for b in self.shown}
        self.shown = [
            b for b in self.cf.blocks(sort=key, descending=self.descending) if b.id in ids
        ]
        self._fill_list()

    def action_search(self) -> None:
        """Show the search box, emptied for a new search."""
        box = self.query_one("#search", Input)
        box.value = ""
        box.add_class("shown")
        box.focus()

    def action_clear_search(self) -> None:
        """Hide the search box and list every block again."""
        box = self.query_one("#search", Input)
        box.value = ""
        box.remove_class("shown")
        if self.query_text:
            self.query_text = ""
            self.shown = self.cf.blocks(sort=self.sort, descending=self.descending)
            self._fill_list()
        self.query_one("#blocks", DataTable).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.action_clear_search()
            return
        found = {b.id for b in self.cf.search(text)}
        if not found:
            self.notify(f"no block holds {text!r}", severity="warning")
            return
        self.query_text = text
        self.shown = [
            b for b in self.cf.blocks(sort=self.sort, descending=self.descending) if b.id in found
        ]
        first = self.shown[0].id
        self.show_block(first)
        self._fill_list()
        addr = parse_address(text)
        if addr is not None:
            self._cursor_to_eip(addr)
        self.query_one("#blocks", DataTable).focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # Refilling a table and moving its cursor post several highlights; only the one for
        # where the cursor stands now counts (acting on the others would move it back).
        if event.cursor_row != event.data_table.cursor_row:
            return
        if event.data_table.id == "blocks" and event.row_key.value is not None:
            self.show_block(int(event.row_key.value), remember=False)
        elif event.data_table.id == "side":
            self._explain(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "blocks":
            self._show_pane("block")
            self.query_one("#side", DataTable).focus()
        elif event.data_table.id == "side" and 0 <= event.cursor_row < len(self.rows):
            link = self.rows[event.cursor_row].exit
            if link is not None:
                self.follow(link)

    # -- the block view ---
    def show_block(self, block_id: int, remember: bool = True) -> None:
        """Show block `block_id`; `remember` puts the block shown so far on the back history."""
        if block_id == self.current:
            return
        if remember and self.current is not None:
            self.history.append(self.current)
        self.current = block_id
        self.query_one("#head", Static).update(block_heading(self.cf, self.cf.block(block_id)))
        self.rows = block_rows(self.cf, block_id)
        self._fill_side()
        self._links_panel(block_id)
        self._explain(0)
        self._sync_list_cursor()

    def _fill_side(self) -> None:
        side = self.query_one("#side", DataTable)
        side.clear()
        keep = [SIDE_COLUMNS.index(c) for c in self.side_columns]
        for r in self.rows:
            cells = side_cells(self.cf, r)
            side.add_row(*(cells[i] for i in keep))

    def _explain(self, index: int) -> None:
        """Say in full what the row at `index` of the block view is."""
        why = self.query_one("#why", Static)
        if not 0 <= index < len(self.rows):
            why.update("")
            return
        why.update(explain(self.cf, self.rows[index], "cache addr" in self.side_columns))

    def _links_panel(self, block_id: int) -> None:
        self.query_one("#links-text", Static).update(
            links_text(self.cf, block_id, self.history[-1] if self.history else None)
        )

    def _cursor_to_eip(self, eip: int) -> None:
        for i, r in enumerate(self.rows):
            if r.guest is not None and r.guest.eip == eip:
                self.query_one("#side", DataTable).move_cursor(row=i)
                return

    # -- following links ---
    def follow(self, link: Link) -> None:
        """Open the block `link` leads to."""
        dst = link_target(self.cf, link)
        if dst is None:
            self.notify(
                f"exit slot {link.slot} leads to no saved block: {describe_link(self.cf, link)}",
                severity="warning",
            )
            return
        self.show_block(dst)

    def action_follow(self, slot: int) -> None:
        """Follow exit slot `slot` of the block shown."""
        if self.current is None:
            return
        links = {lk.slot: lk for lk in self.cf.links_out(self.current)}
        if slot not in links:
            self.notify(f"block #{self.current} has no exit slot {slot}", severity="warning")
            return
        self.follow(links[slot])

    def action_follow_in(self) -> None:
        """Open the hottest block chained into the one shown (the links panel lists all)."""
        if self.current is None:
            return
        ins = self.cf.links_in(self.current)
        if not ins:
            self.notify(f"no block is chained into #{self.current}", severity="warning")
            return
        self.show_block(max(ins, key=lambda lk: self.cf.block(lk.src).hotness).src)

    def action_go_back(self) -> None:
        """Go back to the block shown before the last link followed."""
        if not self.history:
            if self.has_class("narrow") and self.has_class("block-pane"):
                self.action_show_list()
                return
            self.notify("nothing to go back to", severity="information")
            return
        self.show_block(self.history.pop(), remember=False)

    def action_summary(self) -> None:
        """Show the summary panels."""
        self.push_screen(SummaryScreen(self.cf))
