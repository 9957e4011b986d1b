"""The book's live explorers: each a pure compute function plus a view (see ``widgets.base``)."""

from dlbook.widgets.base import Explorer, figure_png, png_output, show_in
from dlbook.widgets.descent import compute_descent, draw_descent, make_descent_explorer
from dlbook.widgets.graph import compute_graph, draw_graph, make_graph_explorer
from dlbook.widgets.vanishing import compute_vanishing, draw_vanishing, make_vanishing_explorer

__all__ = ["Explorer", "figure_png", "png_output", "show_in"]
__all__ += ["compute_graph", "draw_graph", "make_graph_explorer", "compute_descent", "draw_descent",
            "make_descent_explorer", "compute_vanishing", "draw_vanishing", "make_vanishing_explorer"]
