"""Saliency maps (§3.3): which pixels would change the CNN's score for a class the most?

The saliency of pixel (u, v) for class c is the gradient ∂z_c/∂X(u, v) of the
class score (the logit z_c, before softmax) with respect to the input image,
computed by backpropagation through the trained network (``Tensor.backward``)
— the same algorithm that trains the weights, now asked about the input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook.autograd import Tensor


@dataclass(frozen=True)
class Saliency:
    """image (H, W); target class; gradient (H, W) = ∂z_target/∂X; logits (K,); probabilities (K,)."""

    image: np.ndarray
    target: int
    gradient: np.ndarray
    logits: np.ndarray
    probabilities: np.ndarray


def saliency_map(model: Any, image: np.ndarray, target: int) -> Saliency:
    """∂(logit of ``target``)/∂(input pixels) for one image.  image: (H, W) -> gradient (H, W).

    ``model`` maps (1, 1, H, W) to logits (1, K) (e.g. :class:`dlbook.models.cnn.DigitsCNN`).
    """
    from dlbook.functional.activations import softmax_array

    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be 2-D (H, W), got shape {image.shape}")
    dtype = model.parameters()[0].dtype if hasattr(model, "parameters") else np.float64
    x = Tensor(image[None, None].astype(dtype), requires_grad=True)
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    logits = model(x)
    k = logits.shape[-1]
    if not 0 <= int(target) < k:
        raise ValueError(f"target must be a class in [0, {k}), got {target}")
    seed = np.zeros(logits.shape, dtype=logits.dtype)
    seed[0, int(target)] = 1.0                       # backpropagate from z_target alone
    logits.backward(seed)
    if hasattr(model, "train"):
        model.train(was_training)
        model.zero_grad()
    z = logits.data[0].astype(np.float64)
    return Saliency(image, int(target), x.grad[0, 0].astype(np.float64), z, softmax_array(z))


def draw_saliency(s: Saliency, label: int | None = None) -> Any:
    """The digit, the signed gradient as a heat map, and the class probabilities."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(7.2, 2.4), gridspec_kw={"width_ratios": [1, 1, 1.4]})
    axes[0].imshow(s.image, cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_title("digit" + (f" (label {label})" if label is not None else ""), fontsize=9)
    lim = max(1e-12, float(np.abs(s.gradient).max()))
    axes[1].imshow(s.gradient, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[1].set_title(f"∂z_{s.target}/∂X (red: more ink raises it)", fontsize=8)
    for ax in axes[:2]:
        ax.set_xticks([])
        ax.set_yticks([])
    colors = ["tab:red" if c == s.target else "tab:gray" for c in range(len(s.probabilities))]
    axes[2].bar(range(len(s.probabilities)), s.probabilities, color=colors)
    axes[2].set_xticks(range(len(s.probabilities)))
    axes[2].set_ylim(0, 1)
    axes[2].set_title(f"p(class); explained: {s.target}", fontsize=9)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.12, top=0.86, wspace=0.25)
    return fig


def make_saliency_explorer(model: Any, images: np.ndarray, labels: np.ndarray | None = None, mode: str = "static",
                           indices: tuple[int, ...] = (0, 1, 2), classes: tuple[int, ...] = tuple(range(10))) -> Any:
    """Pick an image and a class; see the saliency map of that class's score.

    images: (n, H, W).  Static mode: a grid of ``indices`` × ``classes``;
    live mode: a slider over all images and one over the classes.
    ``explorer.state["saliency"]`` holds the last :class:`Saliency` computed.
    """
    import ipywidgets as W

    from dlbook.widgets.base import Explorer

    images = np.asarray(images)
    state: dict[str, Any] = {}

    def draw(index: int, target: int) -> Any:
        state["saliency"] = saliency_map(model, images[index], target)
        return draw_saliency(state["saliency"], None if labels is None else int(labels[index]))

    controls = {"index": W.IntSlider(value=indices[0], min=0, max=len(images) - 1, description="image"),
                "target": W.IntSlider(value=classes[0], min=0, max=max(classes), description="class")}
    grid = {"index": list(indices), "target": list(classes)}
    explorer = Explorer(draw, controls, grid, mode=mode, title="Saliency: the gradient of a class score")
    explorer.state = state
    return explorer
