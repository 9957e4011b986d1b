"""What every explorer widget shares: figures as PNG outputs, live and static modes.

Each explorer in the book is two parts:

* a pure **compute** function returning arrays (tested directly), and
* a **view** that draws those arrays with matplotlib.

:class:`Explorer` wires them to ipywidgets in one of two modes:

``mode="live"`` (a running kernel): continuous controls; every change calls
compute + draw and writes the PNG straight into ``Output.outputs`` (not
``with out:``), so nbval strict reproduces it and the book stores it.

``mode="static"`` (the online book, no kernel): the figure is precomputed for
every point of a small grid of control values, the frames are ``Image``
widgets in (nested) ``Stack`` s, and each control is ``jslink`` ed to a stack's
``selected_index`` — so moving a slider in the built HTML changes the figure
with no kernel at all.  A slider's values run in increasing order whatever the
order of the grid (whose first value is the one shown first), and a control
the grid gives a single value gets no slider: it would change nothing, so the
widget states its value in a line under the title instead.  A control whose
labels are too long for a slider's readout (3.5's example dates) is a
drop-down as wide as its longest label, so no readout spills over the next
control.

Legibility: frames are drawn at ``dpi`` dots per inch; :data:`LEGIBLE_DPI`
(100, the dpi of the book's inline figures) is what a reader can read, the
old default :data:`DPI` (72) is kept only until each explorer has moved over.

Page weight: every frame is a PNG embedded (base64) in the page's widget state.
Static frames are palette-quantised (``colors=256`` by default: deterministic,
no visible change on line plots and colour maps, and a paletted PNG compresses
far better than an RGBA one), and
:func:`widget_state_bytes` / :meth:`Explorer.state_bytes` /
:func:`stored_widget_sizes` report what a widget adds to its page — the book
keeps each widget under :data:`MAX_WIDGET_BYTES`.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# No matplotlib.use() here: importing the widgets must not take a notebook's
# inline backend away (plt.show() would then store no figure).  Headless
# processes get Agg from matplotlib's own fallback.
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from dlbook._checks import check_int

DPI = 72
#: A static slider's readout shows about this many columns (ipywidgets: at most 148 px); longer labels get a
#: drop-down instead.
READOUT_COLUMNS = 16
#: The dpi of the book's inline matplotlib figures: widget frames are drawn at it to be as legible.
LEGIBLE_DPI = 100
#: Static frames are quantised to this many colours (``None`` keeps full RGBA).
STATIC_COLORS = 256
#: The budget for what one widget adds to its page (widget state JSON, bytes).
MAX_WIDGET_BYTES = 1_000_000


def figure_png(fig: Figure, dpi: int = DPI, colors: int | None = None) -> bytes:
    """The figure as PNG bytes (deterministic: no date in the metadata); closes the figure.

    ``colors`` (2–256) palette-quantises the image (median cut, no dithering: the
    same figure always gives the same bytes), which makes line plots and colour
    maps about three times smaller with no visible change.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    png = buf.getvalue()
    return png if colors is None else quantize_png(png, colors)


def quantize_png(png: bytes, colors: int = STATIC_COLORS) -> bytes:
    """``png`` re-encoded with a palette of at most ``colors`` colours (deterministic)."""
    check_int("colors", colors, 2, 256)
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    if image.mode == "RGBA" and image.getextrema()[3][0] == 255:  # opaque: drop the alpha channel
        image = image.convert("RGB")
    if image.mode == "RGBA":
        paletted = image.quantize(colors=colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    else:
        paletted = image.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT,
                                                 dither=Image.Dither.NONE)
    out = io.BytesIO()
    paletted.save(out, format="PNG", optimize=True)
    return out.getvalue()


def widget_state_bytes(*widgets: Any) -> int:
    """Bytes the widgets (and every model they reference) add to a page's widget state JSON.

    This is the state a notebook stores and the book embeds: binary buffers
    (PNG frames) are base64-encoded, as in the notebook metadata.
    """
    from ipywidgets.embed import dependency_state

    return len(json.dumps(dependency_state(list(widgets), drop_defaults=True)))


_MODEL_REF = re.compile(r"IPY_MODEL_([0-9a-f]{32})")


def model_references(state: Mapping[str, Any]) -> dict[str, set[str]]:
    """For a widget state (model id → model), the ids each model refers to (``IPY_MODEL_<id>``)."""
    return {mid: set(_MODEL_REF.findall(json.dumps(m.get("state", {})))) for mid, m in state.items()}


def widget_tree(root: str, refs: Mapping[str, set[str]]) -> set[str]:
    """The ids of ``root`` and of every model it references, directly or not (``refs`` from model_references)."""
    seen: set[str] = set()
    todo = [root]
    while todo:
        mid = todo.pop()
        if mid not in seen and mid in refs:
            seen.add(mid)
            todo.extend(refs[mid])
    return seen


def stored_widget_sizes(notebook: Mapping[str, Any]) -> dict[str, int]:
    """For a notebook (as loaded JSON), the bytes each displayed widget adds to the page.

    Keys are the model ids of the displayed widgets; a widget's size counts the
    models it references (children, layouts, images) and the links (``jslink``)
    that join them, each model counted once per widget.
    """
    state = (notebook.get("metadata", {}).get("widgets", {})
             .get("application/vnd.jupyter.widget-state+json", {}).get("state", {}))
    refs = model_references(state)
    sizes = {}
    for cell in notebook.get("cells", []):
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if not view or view["model_id"] not in state:
                continue
            seen = widget_tree(view["model_id"], refs)
            seen |= {mid for mid, m in state.items() if m.get("model_name") in ("LinkModel", "DirectionalLinkModel")
                     and refs[mid] & seen}
            sizes[view["model_id"]] = sum(len(json.dumps({mid: state[mid]})) for mid in seen)
    return sizes


def png_output(png: bytes) -> dict[str, Any]:
    """A display_data output holding ``png``, as Output.outputs expects."""
    import base64

    return {
        "output_type": "display_data",
        "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": "<Figure>"},
        "metadata": {},
    }


def show_in(output: Any, fig: Figure, dpi: int = DPI) -> bytes:
    """Replace what ``output`` (an ipywidgets.Output) shows by ``fig`` drawn at ``dpi``; returns the PNG bytes."""
    png = figure_png(fig, dpi=dpi)
    output.outputs = (png_output(png),)
    return png


class Explorer:
    """An interactive figure.

    ``draw(**values) -> Figure`` makes the figure for one setting of the
    controls.  ``controls`` maps each control's name to the ipywidgets
    control used in live mode; ``grid`` maps each name to the values that
    static mode precomputes (a few per control: every combination is drawn).

    Static-mode options: ``colors`` palette-quantises the frames (``None``: full
    RGBA PNG); ``linked=False`` leaves the sliders unlinked from the frames — a
    broken widget, for the browser test that shows the slider check can fail.
    ``dpi`` is the resolution of every figure, live or static.
    """

    def __init__(
        self,
        draw: Callable[..., Figure],
        controls: Mapping[str, Any],
        grid: Mapping[str, Sequence[Any]],
        mode: str = "static",
        title: str = "",
        *,
        colors: int | None = STATIC_COLORS,
        linked: bool = True,
        dpi: int = DPI,
    ) -> None:
        if mode not in ("static", "live"):
            raise ValueError(f"mode must be 'static' or 'live', got {mode!r}")
        missing = set(grid) ^ set(controls)
        if missing:
            raise ValueError(f"controls and grid must name the same controls; they differ in {sorted(missing)}")
        for name, values in grid.items():
            if len(values) == 0:
                raise ValueError(f"grid[{name!r}] is empty")
        if colors is not None:
            check_int("colors", colors, 2, 256)
        check_int("dpi", dpi, 50, 300)
        self.dpi = dpi
        self.draw, self.controls, self.grid, self.mode, self.title = draw, dict(controls), dict(grid), mode, title
        self.colors, self.linked = colors, linked
        self.links: list[Any] = []
        self.last_png: bytes | None = None
        self.frames: dict[tuple[Any, ...], bytes] = {}
        self.widget = self._build_live() if mode == "live" else self._build_static()

    # ---- live: recompute on every change --------------------------------
    def _build_live(self) -> Any:
        import ipywidgets as W

        self.output = W.Output()
        for control in self.controls.values():
            control.observe(lambda _change: self.redraw(), names="value")
        self.redraw()
        header = [W.HTML(f"<b>{self.title}</b>")] if self.title else []
        return W.VBox([*header, W.HBox(list(self.controls.values()), layout=W.Layout(flex_flow="row wrap")),
                       self.output])

    def values(self) -> dict[str, Any]:
        """The controls' current values."""
        return {name: c.value for name, c in self.controls.items()}

    def redraw(self) -> bytes:
        """Compute and draw for the current values; show the figure in the Output."""
        self.last_png = show_in(self.output, self.draw(**self.values()), dpi=self.dpi)
        return self.last_png

    # ---- static: precomputed frames linked in the browser ----------------
    def _build_static(self) -> Any:
        import ipywidgets as W

        names = list(self.grid)
        for combo in itertools.product(*(self.grid[n] for n in names)):
            self.frames[combo] = figure_png(self.draw(**dict(zip(names, combo))), dpi=self.dpi, colors=self.colors)
        # each slider runs through its values in increasing order and starts at the grid's first value
        self.options = {n: _ordered(self.grid[n]) for n in names}
        moving = [n for n in names if len(self.grid[n]) > 1]
        self.fixed = {n: self.grid[n][0] for n in names if n not in moving}
        self.sliders = {n: self._selector(n) for n in moving}
        self.display = self._nest(moving, {}) if moving else W.Image(value=self._frame({}), format="png")
        self.last_png = self._frame({})
        header = [W.HTML(f"<b>{self.title}</b>")] if self.title else []
        if self.fixed:
            fixed = ", ".join(f"{self._description(n)} = {_label(v)}" for n, v in self.fixed.items())
            header.append(W.HTML(f"<small>Fixed in these precomputed frames: {fixed} (every control is free "
                                 "with <code>mode=\"live\"</code> in a running kernel).</small>"))
        return W.VBox([*header, W.HBox(list(self.sliders.values()), layout=W.Layout(flex_flow="row wrap")),
                       self.display])

    def _selector(self, name: str) -> Any:
        """The static control for one name: a slider, whose readout holds about :data:`READOUT_COLUMNS` columns;
        over longer labels (3.5's dates) a drop-down as wide as the longest, so no readout runs into the next
        control."""
        import ipywidgets as W

        labels = [_label(v) for v in self.options[name]]
        common = {"options": [(label, i) for i, label in enumerate(labels)],
                  "index": self.options[name].index(self.grid[name][0]), "description": self._description(name),
                  "style": {"description_width": "initial"}}
        longest = max(map(_display_width, labels))
        if longest <= READOUT_COLUMNS:
            return W.SelectionSlider(continuous_update=True, **common)
        width = _display_width(common["description"]) + longest + 8
        return W.Dropdown(layout=W.Layout(width=f"{width}ch"), **common)

    def _description(self, name: str) -> str:
        return getattr(self.controls[name], "description", name) or name

    def _frame(self, chosen: Mapping[str, Any]) -> bytes:
        """The frame for the values in ``chosen``, every other control at its first grid value."""
        return self.frames[tuple(chosen.get(n, self.grid[n][0]) for n in self.grid)]

    def _nest(self, names: list[str], chosen: dict[str, Any]) -> Any:
        """A Stack over the first remaining slider (children in its options' order); each child nests the rest."""
        import ipywidgets as W

        name, rest = names[0], names[1:]
        children = []
        for v in self.options[name]:
            inner = {**chosen, name: v}
            children.append(self._nest(rest, inner) if rest else W.Image(value=self._frame(inner), format="png"))
        stack = W.Stack(children=children, selected_index=self.sliders[name].index)
        if self.linked:
            self.links.append(W.jslink((self.sliders[name], "index"), (stack, "selected_index")))
        return stack

    def select(self, **values: Any) -> bytes:
        """Move static sliders (by value) as a reader would; returns the frame now shown.

        A fixed control (one grid value, no slider) accepts only that value."""
        for name, v in values.items():
            if name in self.fixed:
                if v != self.fixed[name]:
                    raise ValueError(f"{name} is fixed at {self.fixed[name]!r} in static mode, got {v!r}")
                continue
            self.sliders[name].index = self.options[name].index(v)
        self.last_png = self._frame({n: self.options[n][s.index] for n, s in self.sliders.items()})
        return self.last_png

    def shown_png(self) -> bytes:
        """The frame the static widget displays now, found by walking its Stacks as the browser would."""
        node = self.display
        while not hasattr(node, "format"):      # a Stack: follow its selected child
            node = node.children[node.selected_index]
        return node.value

    def state_bytes(self) -> int:
        """Bytes this widget adds to its page's widget state (frames, controls, layouts and links)."""
        return widget_state_bytes(self.widget)  # dependency_state adds the jslinks between its widgets

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _label(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _ordered(values: Sequence[Any]) -> list[Any]:
    """Numbers in increasing order (a slider should never run 0.05, 0.01, 0.15); anything else as given."""
    return sorted(values) if _numeric(values) else list(values)


def _display_width(text: str) -> int:
    """Columns ``text`` takes in a monospace sense: 2 for a wide (CJK) character, 1 otherwise."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
