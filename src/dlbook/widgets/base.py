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
with no kernel at all.

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


def show_in(output: Any, fig: Figure) -> bytes:
    """Replace what ``output`` (an ipywidgets.Output) shows by ``fig``; returns the PNG bytes."""
    png = figure_png(fig)
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
        self.last_png = show_in(self.output, self.draw(**self.values()))
        return self.last_png

    # ---- static: precomputed frames linked in the browser ----------------
    def _build_static(self) -> Any:
        import ipywidgets as W

        names = list(self.grid)
        for combo in itertools.product(*(self.grid[n] for n in names)):
            self.frames[combo] = figure_png(self.draw(**dict(zip(names, combo))), colors=self.colors)
        self.sliders = {
            n: W.SelectionSlider(options=[(_label(v), i) for i, v in enumerate(self.grid[n])],
                                 description=getattr(self.controls[n], "description", n) or n,
                                 continuous_update=True, style={"description_width": "initial"})
            for n in names
        }
        self.display = self._nest(names, ())
        self.last_png = self.frames[tuple(self.grid[n][0] for n in names)]
        header = [W.HTML(f"<b>{self.title}</b>")] if self.title else []
        return W.VBox([*header, W.HBox(list(self.sliders.values()), layout=W.Layout(flex_flow="row wrap")),
                       self.display])

    def _nest(self, names: list[str], prefix: tuple[Any, ...]) -> Any:
        """A Stack over the first remaining control; each child nests the rest."""
        import ipywidgets as W

        name, rest = names[0], names[1:]
        children = []
        for v in self.grid[name]:
            key = (*prefix, v)
            children.append(self._nest(rest, key) if rest else W.Image(value=self.frames[key], format="png"))
        stack = W.Stack(children=children, selected_index=0)
        if self.linked:
            self.links.append(W.jslink((self.sliders[name], "index"), (stack, "selected_index")))
        return stack

    def select(self, **values: Any) -> bytes:
        """Move static sliders (by value) as a reader would; returns the frame now shown."""
        for name, v in values.items():
            self.sliders[name].index = list(self.grid[name]).index(v)
        key = tuple(self.grid[n][self.sliders[n].index] for n in self.grid)
        self.last_png = self.frames[key]
        return self.last_png

    def state_bytes(self) -> int:
        """Bytes this widget adds to its page's widget state (frames, controls, layouts and links)."""
        return widget_state_bytes(self.widget)  # dependency_state adds the jslinks between its widgets

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _label(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)
