"""The convolution explorer (§4.3): one output of (eq-conv), its 9 products, the whole feature map and its pooling.

Compute: :func:`convolution_at` returns the 3×3 window of the (zero-padded)
digit at output position (i, j), the 9 products X(i+m, j+n)·K(m, n), their
sum Y(i, j), the full feature map (from :func:`dlbook.functional.conv2d`) and
its 2×2 max-pooled map.  View: :func:`draw_convolution`.  Widget:
:func:`make_convolution_explorer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook.autograd import no_grad

KERNELS: dict[str, np.ndarray] = {
    "edge": np.array([[-1.0, -1.0, -1.0], [-1.0, 8.0, -1.0], [-1.0, -1.0, -1.0]]),
    "vertical edge": np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]),
    "horizontal edge": np.array([[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]]),
    "blur": np.full((3, 3), 1.0 / 9.0),
    "sharpen": np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
    "identity": np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]),
}


@dataclass(frozen=True)
class ConvolutionStep:
    """Everything the explorer shows for one setting.

    image (H, W); kernel (3, 3); (i, j); window (3, 3) = padded X[i:i+3, j:j+3];
    products (3, 3) = window · kernel; value = Σ products = Y(i, j);
    feature_map (H, W) (padding 1, stride 1); pooled (H//2, W//2) (2×2 max).
    """

    image: np.ndarray
    kernel: np.ndarray
    i: int
    j: int
    window: np.ndarray
    products: np.ndarray
    value: float
    feature_map: np.ndarray
    pooled: np.ndarray


def kernel_from(name: str, custom: Any = None) -> np.ndarray:
    """A named kernel from :data:`KERNELS`, or ``custom`` (9 numbers, row after row) when name is "custom"."""
    if name == "custom":
        k = np.asarray(custom, dtype=np.float64)
        if k.size != 9:
            raise ValueError(f"custom kernel must have 9 values (3×3), got shape {k.shape}")
        return k.reshape(3, 3)
    if name not in KERNELS:
        raise ValueError(f"kernel must be one of {sorted(KERNELS) + ['custom']}, got {name!r}")
    return KERNELS[name]


def convolution_at(image: np.ndarray, kernel: np.ndarray, i: int, j: int) -> ConvolutionStep:
    """One output of (eq-conv) written out, beside the whole feature map.

    image: (H, W); kernel: (3, 3); 0 ≤ i < H, 0 ≤ j < W (padding 1 keeps the
    output H×W, so window (i, j) of the padded image is centred on pixel (i, j)).
    """
    from dlbook.functional.conv import conv2d, max_pool2d

    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    if kernel.shape != (3, 3):
        raise ValueError(f"kernel must have shape (3, 3), got {kernel.shape}")
    h, w = image.shape
    if not (0 <= i < h and 0 <= j < w):
        raise ValueError(f"position (i, j) must lie in [0, {h}) × [0, {w}), got ({i}, {j})")
    padded = np.pad(image, 1)
    window = padded[i:i + 3, j:j + 3].copy()
    products = window * kernel
    with no_grad():
        fmap = conv2d(image[None, None], kernel[None, None], padding=1)
        pooled = max_pool2d(fmap, 2)
    return ConvolutionStep(image, kernel, int(i), int(j), window, products, float(products.sum()),
                           fmap.data[0, 0], pooled.data[0, 0])


def draw_convolution(step: ConvolutionStep, title: str = "") -> Any:
    """Four panels: the digit with the window, the 9 products and their sum, the feature map, the pooled map."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    fig, axes = plt.subplots(1, 4, figsize=(9.6, 2.7), gridspec_kw={"width_ratios": [1, 1.15, 1, 0.8]})
    ax = axes[0]
    ax.imshow(step.image, cmap="gray_r", vmin=0, vmax=1)
    ax.add_patch(Rectangle((step.j - 1.5, step.i - 1.5), 3, 3, fill=False, ec="tab:red", lw=2, clip_on=False))
    ax.set_title(f"input X, window at ({step.i}, {step.j})", fontsize=9)

    ax = axes[1]
    lim = max(1e-9, float(np.abs(step.products).max()))
    ax.imshow(step.products, cmap="RdBu_r", vmin=-lim, vmax=lim)
    for m in range(3):
        for n in range(3):
            ax.text(n, m, f"{step.window[m, n]:.2f}\n×{step.kernel[m, n]:.3g}\n={step.products[m, n]:.2f}",
                    ha="center", va="center", fontsize=6.5,
                    color="white" if abs(step.products[m, n]) > 0.6 * lim else "black")
    ax.set_title(f"X(i+m, j+n)·K(m, n): Σ = {step.value:.3f}", fontsize=9)

    ax = axes[2]
    lim = max(1e-9, float(np.abs(step.feature_map).max()))
    ax.imshow(step.feature_map, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.add_patch(Rectangle((step.j - 0.5, step.i - 0.5), 1, 1, fill=False, ec="tab:red", lw=2))
    ax.set_title(f"feature map Y: Y({step.i},{step.j}) = {step.value:.2f}", fontsize=9)

    ax = axes[3]
    ax.imshow(step.pooled, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.add_patch(Rectangle((step.j // 2 - 0.5, step.i // 2 - 0.5), 1, 1, fill=False, ec="tab:red", lw=2))
    ax.set_title("2×2 max-pooled", fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.86, wspace=0.12)
    return fig


STATIC_KERNELS = ("edge", "vertical edge", "blur", "sharpen")
STATIC_POSITIONS = ((1, 3), (2, 2), (3, 5), (4, 4), (5, 2), (6, 4))


def make_convolution_explorer(images: np.ndarray | None = None, mode: str = "static", digit: int = 0,
                              kernels: tuple[str, ...] = STATIC_KERNELS,
                              positions: tuple[tuple[int, int], ...] = STATIC_POSITIONS) -> Any:
    """The convolution explorer as a :class:`dlbook.widgets.base.Explorer`.

    images: (n, 8, 8) digits (default: the test digits of ``load_digits``).
    Static mode: digit ``digit``, a grid of ``kernels`` × ``positions``.  Live
    mode: sliders for the digit and for i and j, a kernel menu with "custom",
    and nine number boxes for the custom kernel.  ``explorer.state["step"]``
    holds the last :class:`ConvolutionStep` computed.
    """
    import ipywidgets as W

    from dlbook.widgets.base import Explorer

    if images is None:
        from dlbook.data.digits import load_digits

        images = load_digits().X_test
    images = np.asarray(images)
    state: dict[str, Any] = {}
    names = [f"k{m}{n}" for m in range(3) for n in range(3)]

    def compute(index: int, kernel: str, i: int, j: int, custom: Any = None) -> ConvolutionStep:
        state["step"] = convolution_at(images[index], kernel_from(kernel, custom), i, j)
        return state["step"]

    if mode == "static":
        controls = {"kernel": W.Dropdown(options=list(kernels), description="kernel"),
                    "position": W.Dropdown(options=[str(p) for p in positions], description="(i, j)")}
        grid = {"kernel": list(kernels), "position": list(positions)}

        def draw(kernel: str, position: tuple[int, int]) -> Any:
            return draw_convolution(compute(digit, kernel, *position))
    else:
        h, w = images.shape[1:]
        controls = {
            "index": W.IntSlider(value=digit, min=0, max=len(images) - 1, description="digit"),
            "kernel": W.Dropdown(options=[*KERNELS, "custom"], value="edge", description="kernel"),
            "i": W.IntSlider(value=3, min=0, max=h - 1, description="i"),
            "j": W.IntSlider(value=3, min=0, max=w - 1, description="j"),
        }
        start = KERNELS["sharpen"].ravel()
        for name, v in zip(names, start):
            controls[name] = W.FloatText(value=float(v), description=name, layout=W.Layout(width="130px"),
                                         style={"description_width": "30px"})
        grid = {name: [c.value] for name, c in controls.items()}

        def draw(index: int, kernel: str, i: int, j: int, **custom: float) -> Any:
            return draw_convolution(compute(index, kernel, i, j, [custom[n] for n in names]))

    title = "Convolution explorer: Y(i,j) = Σₘ Σₙ X(i+m, j+n) K(m,n)"
    explorer = Explorer(draw, controls, grid, mode=mode, title=title)
    explorer.state = state
    return explorer
