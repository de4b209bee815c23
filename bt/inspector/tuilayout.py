"""The inspector's layout by terminal size: the widths that change it, its columns, its CSS."""

from __future__ import annotations

# Layout by terminal width. From WIDE columns on, the list (all its columns) and the block view
# (reasons included) stand side by side; from SPLIT on, the list keeps block number, address
# and hotness and the reasons live in the panel below the rows only; below SPLIT one pane
# fills the screen at a time (enter opens a block, l goes back to the list), and below
# NO_CACHE_ADDR the translation's cache addresses are left to the panel too, so guest and
# translated instructions still fit whole at 80 columns.
WIDE, SPLIT, NO_CACHE_ADDR = 160, 120, 96
SHORT = 30  # fewer rows: the panels under the block view take two lines each
SIDE_COLUMNS = ("guest eip", "guest instruction", "rule", "", "cache addr", "translation", "why")
LIST_COLUMNS = ("#", "guest addr", "insns", "size", "hot", "callouts", "chained")
COMPACT_LIST = ("#", "guest addr", "hot")


def columns_for(width: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The block list's and the block view's columns for a terminal `width` cells wide."""
    lists = COMPACT_LIST if SPLIT <= width < WIDE else LIST_COLUMNS
    side = tuple(
        c
        for c in SIDE_COLUMNS
        if not (c == "why" and width < WIDE) and not (c == "cache addr" and width < NO_CACHE_ADDR)
    )
    return lists, side


INSPECTOR_CSS = """
    #left { width: 60; border: round $primary; }
    .compact #left { width: 29; }
    .narrow #left { width: 1fr; }
    .narrow.block-pane #left { display: none; }
    .narrow.list-pane #right { display: none; }
    #head { max-height: 4; }
    .short #why { max-height: 2; }
    .short #links { max-height: 2; }
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
