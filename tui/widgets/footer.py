"""The dashboard's footer: whole keys only, as many as the width holds.

Textual's Footer cuts its last key mid-word on a narrow terminal and the
command palette's key is drawn over it (`s ▏^p palette` at 80 columns). Here,
below NARROW_COLUMNS the footer is compact and, below PALETTE_COLUMNS, leaves
out the palette's key (`?` lists it); keys that still do not fit are left out
whole, from the end (the grid lists its keys most needed first).
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # exported only from its module

NARROW_COLUMNS = 120
PALETTE_COLUMNS = 100
_PALETTE_CELLS = 12  # `▏^p palette ` as Textual draws it, at most


class FittingFooter(Footer):
    def compose(self) -> ComposeResult:
        width = self.size.width
        widgets: list[Widget] = list(super().compose())
        if not width:  # not laid out yet: on_resize composes again
            yield from widgets
            return
        budget = width - (_PALETTE_CELLS if self.show_command_palette else 0)
        used = 0
        for widget in widgets:
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                # ` k Desc ` (compact: `k Desc` and a margin): see FooterKey's CSS.
                need = cell_len(widget.key_display) + cell_len(widget.description)
                need += 2 if self.compact else 3
                used += need
                if used > budget:
                    continue  # left out whole; `?` lists every key
            yield widget

    def on_resize(self) -> None:
        width = self.size.width
        compact, palette = width < NARROW_COLUMNS, width >= PALETTE_COLUMNS
        if (compact, palette) != (self.compact, self.show_command_palette):
            self.compact, self.show_command_palette = compact, palette
        self.call_after_refresh(self.recompose)
