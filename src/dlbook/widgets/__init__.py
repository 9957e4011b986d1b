"""The book's live explorers: each a pure compute function plus a view (see ``widgets.base``)."""

from dlbook.widgets.base import Explorer, figure_png, png_output, show_in

__all__ = ["Explorer", "figure_png", "png_output", "show_in"]
