"""InspectorApp: the terminal interface of `bt inspect FILE` (Textual), over a CacheFile.

The main screen holds the block list (left) and the block view (right): guest instructions
beside their translation, one row per translated instruction (bt/inspector/align.py), rewritten
instructions coloured by rule with their reason, then the exit slots with their links. The
summary screen holds the panels: cache occupancy, hit rate, callouts by kind, invalidations.

Keys: a/h/z/c sort the list by address, hotness, size, callouts (again: reverse); / searches
by guest address or mnemonic (escape clears); 0-9 or enter on an exit row follow that exit
slot's link; p goes to the hottest block chained into this one; b or backspace
goes back; s shows the summary; q quits.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from bt.inspector.align import Row, block_rows, describe_link, link_target, times
from bt.inspector.model import Block, CacheFile, Link, SortKey, Summary, parse_address

RULE_STYLES = {
    "copy": "",
    "inline": "black on #8fd19e",
    "callout": "black on #e8c547",
    "callout-exit": "black on #e8913a",
    "branch": "black on #7fb2f0",
    "indirect": "black on #b896f0",
    "exit": "#9aa3b5",
}
"""How each rule is drawn; copied instructions stay plain so the rewritten ones stand out."""

_DEFAULT_DESC: dict[SortKey, bool] = {"address": False, "hotness": True, "size": True,
                                      "callouts": True}


def _cell(text: str, rule: str) -> Text:
    return Text(text, style=RULE_STYLES.get(rule, ""), no_wrap=True)


def _hotness(b: Block) -> str:
    return f"{b.hotness}" if b.executions is not None else f"{b.hotness}+"


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
                yield Static(f"Invalidations: {s.invalidations} in the run, "
                             f"the last {len(saved)} saved", classes="title")
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
            invs.add_row(str(inv.seq), inv.reason, page, f"0x{inv.eip:08x}",
                         f"0x{inv.code_addr:08x}")


def _occupancy_text(s: Summary) -> str:
    rules = ", ".join(f"{r} {n}" for r, n in s.rules.items())
    return (f"Cache occupancy\n"
            f"{s.code_bytes} of {s.capacity} bytes: {100 * s.occupancy:.4f}%\n"
            f"{s.blocks} blocks, {s.guest_insns_translated} guest instructions\n"
            f"rules: {rules}")


def _hit_rate_text(s: Summary) -> str:
    run = "not counted (run with --count-insns)" if s.guest_insns is None else str(s.guest_insns)
    return (f"Hit rate\n"
            f"{100 * s.hit_rate:.2f}%: {s.hits} of {s.lookups} lookups by the monitor\n"
            f"{s.translations} translations, {s.chains} chainings, {s.flushes} flushes\n"
            f"chained links now: {s.chained_links} of {s.links}; guest insns run: {run}")


class InspectorApp(App[None]):
    """Browse the blocks of one cache file."""

    TITLE = "bt inspect"
    CSS = """
    #left { width: 60; border: round $primary; }
    #search { display: none; }
    #search.shown { display: block; }
    #blocks { height: 1fr; }
    #head { height: auto; padding: 0 1; background: $panel; }
    #side { height: 1fr; }
    #why { height: auto; max-height: 5; padding: 0 1; background: $boost; }
    #links { height: auto; max-height: 6; padding: 0 1; }
    #status { height: 1; padding: 0 1; background: $panel; }
    .panel { border: round $accent; padding: 0 1; height: 1fr; width: 1fr; }
    .title { text-style: bold; }
    #panels-top { height: 8; }
    """
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

    # -- layout ---
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="left"):
                yield Input(placeholder="guest address (hex) or mnemonic, enter to search",
                            id="search")
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
            "invalidations · s: summary")
        blocks = self.query_one("#blocks", DataTable)
        blocks.add_columns("#", "guest addr", "insns", "size", "hot", "callouts", "chained")
        side = self.query_one("#side", DataTable)
        side.add_columns("guest eip", "guest instruction", "rule", "", "cache addr",
                         "translation", "why")
        self._fill_list()
        if self.shown:
            self.show_block(self.shown[0].id, remember=False)
        blocks.focus()

    # -- the block list ---
    def _fill_list(self) -> None:
        table = self.query_one("#blocks", DataTable)
        table.clear()
        for b in self.shown:
            table.add_row(
                Text(f"#{b.id}"), f"0x{b.linear:08x}", Text(str(b.insn_count), justify="right"),
                Text(str(b.code_size), justify="right"), Text(_hotness(b), justify="right"),
                Text(str(b.callouts), justify="right"), f"{b.chained_out}/{b.links_out}",
                key=str(b.id))
        arrow = "v" if self.descending else "^"
        where = f" matching {self.query_text!r}" if self.query_text else ""
        self.query_one("#left", Vertical).border_title = (
            f"{len(self.shown)} blocks{where}, by {self.sort} {arrow}")
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
        self.shown = [b for b in self.cf.blocks(sort=key, descending=self.descending)
                      if b.id in ids]
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
        self.shown = [b for b in self.cf.blocks(sort=self.sort, descending=self.descending)
                      if b.id in found]
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
        b = self.cf.block(block_id)
        kinds = ", ".join(f"{k} {n}" for k, n in self.cf.callouts(block_id).items()) or "none"
        ran = (f"ran {b.executions}x" if b.executions is not None
               else f"entered {b.entries}x by the monitor (chained entries not counted)")
        self.query_one("#head", Static).update(Text(
            f"Block #{b.id}  guest 0x{b.eip:08x}-0x{b.end:08x} (CS base 0x{b.cs_base:x}, "
            f"{b.mode})  ->  cache 0x{b.code_addr:08x}\n"
            f"{b.insn_count} insns, {b.guest_size} guest bytes -> {b.code_size} translated "
            f"bytes; {ran}; monitor entries {b.entries}; callouts: {kinds}"))
        self.rows = block_rows(self.cf, block_id)
        side = self.query_one("#side", DataTable)
        side.clear()
        for r in self.rows:
            side.add_row(*self._side_cells(r))
        self._links_panel(block_id)
        self._explain(0)
        self._sync_list_cursor()

    def _side_cells(self, r: Row) -> tuple[Text, ...]:
        rule = r.rule
        if r.guest is not None:
            g = r.guest
            left = (_cell(f"0x{g.eip:08x}", rule), _cell(g.text, rule), _cell(g.rule, rule))
        else:
            left = (_cell("", rule), _cell("", rule), _cell("", rule))
        if r.translated is not None:
            t = r.translated
            right = (_cell(f"0x{t.address:08x}", rule), _cell(t.text, rule))
        else:
            right = (_cell("", rule), _cell("(nothing)", rule))
        if r.guest is not None and r.guest.rewritten:
            why = _cell(f"{r.guest.kind}: {r.guest.reason}", rule)
        elif r.exit is not None:
            why = _cell(f"[{r.exit.slot}] {describe_link(self.cf, r.exit)}", rule)
        else:
            why = _cell("", rule)
        return (*left, Text("->", style="dim"), *right, why)

    def _explain(self, index: int) -> None:
        """Say in full what the row at `index` of the block view is."""
        why = self.query_one("#why", Static)
        if not 0 <= index < len(self.rows):
            why.update("")
            return
        r = self.rows[index]
        if r.insn is not None:
            g = r.insn
            if g.rewritten:
                text = f"{g.text}  [{g.rule}, callout kind {g.kind}]\nwhy: {g.reason}"
            else:
                text = f"{g.text}  [copy] copied unchanged"
                if g.reason:
                    text += f": {g.reason}"
        elif r.exit is not None:
            text = f"exit slot {r.exit.slot}: {describe_link(self.cf, r.exit)}"
            if link_target(self.cf, r.exit) is not None:
                text += f"  (enter or {r.exit.slot} follows it)" if r.exit.slot < 10 else \
                    "  (enter follows it)"
        else:
            text = "exit code: leads to the next exit slot"
        why.update(Text(text))

    def _links_panel(self, block_id: int) -> None:
        outs = []
        for lk in self.cf.links_out(block_id):
            if lk.edge == "never":
                outs.append(f"[{lk.slot}] never (after a callout that redirects)")
                continue
            dst = link_target(self.cf, lk)
            to = f" #{dst}" if dst is not None else ""
            state = "chained" if lk.chained else f"unchained, via monitor {times(lk.taken)}"
            target = "monitor-computed" if lk.target_eip is None else f"0x{lk.target_eip:08x}"
            outs.append(f"[{lk.slot}] {lk.edge} {target}{to} ({state})")
        ins = [f"#{lk.src} {lk.edge}" for lk in self.cf.links_in(block_id)]
        self.query_one("#links-text", Static).update(Text(
            "out (0-9 follow): " + ("  ".join(outs) or "none") + "\n"
            "in (p follows): " + (", ".join(ins) or "none, or not chained")
            + (f"\nback (b): #{self.history[-1]}" if self.history else "")))

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
            self.notify(f"exit slot {link.slot} leads to no saved block: "
                        f"{describe_link(self.cf, link)}", severity="warning")
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
            self.notify("nothing to go back to", severity="information")
            return
        self.show_block(self.history.pop(), remember=False)

    def action_summary(self) -> None:
        """Show the summary panels."""
        self.push_screen(SummaryScreen(self.cf))
