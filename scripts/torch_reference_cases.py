"""The cases of ``make_torch_references.py``: each draws its inputs from a seed, runs dlbook, and runs PyTorch.

A case is three functions.  ``make(rng)`` draws every input (float64 data, weights as ``w:<dlbook name>``,
upstream gradients ``g…``, masks, ids) from ``np.random.default_rng(seed)``; ``ours(inputs)`` runs dlbook and
``theirs(inputs)`` PyTorch, each returning the same names: outputs, and ``grad:<name>`` for every input and
weight.  Both sides backpropagate the same upstream gradient, so every gradient is checked, not only that of
a sum.  ``theirs`` imports torch when called; nothing else here needs it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlbook import functional as F
from dlbook import nn
from dlbook.autograd import Tensor

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Case:
    """One comparison: its inputs come from ``make(np.random.default_rng(seed))``, seed = CRC-32 of the name."""

    name: str
    make: Callable[[np.random.Generator], Arrays]
    ours: Callable[[Arrays], Arrays]
    theirs: Callable[[Arrays], Arrays]

    @property
    def seed(self) -> int:
        return zlib.crc32(self.name.encode())

    def inputs(self) -> Arrays:
        return self.make(np.random.default_rng(self.seed))


CASES: list[Case] = []


def add_case(name: str, make: Callable[[np.random.Generator], Arrays], ours: Callable[[Arrays], Arrays],
          theirs: Callable[[Arrays], Arrays]) -> None:
    if any(c.name == name for c in CASES):
        raise ValueError(f"duplicate case name {name!r}")
    CASES.append(Case(name, make, ours, theirs))


# ---- comparing --------------------------------------------------------------------------
def fingerprint(inputs: Arrays) -> tuple[np.ndarray, np.ndarray]:
    """(sorted input names, the sum of each input as float64): enough to tell that the inputs changed."""
    names = sorted(inputs)
    return np.array(names), np.array([np.sum(inputs[k], dtype=np.float64) for k in names])


def relative_errors(ours: Arrays, theirs: Arrays) -> dict[str, float]:
    """max |ours − theirs| / max |theirs| per array (the absolute error where ``theirs`` is all zero).

    Scaled by the array's largest entry, not entry by entry: a gradient entry that is a sum of terms
    cancelling to ~0 carries the rounding of those terms, which is small only relative to their size.
    Different names or shapes raise ValueError; a NaN where the other side has a number counts as inf.
    """
    if set(ours) != set(theirs):
        raise ValueError(f"dlbook and PyTorch give different arrays: only dlbook {sorted(set(ours) - set(theirs))}, "
                         f"only PyTorch {sorted(set(theirs) - set(ours))}")
    errors = {}
    for k, t in theirs.items():
        o = np.asarray(ours[k], dtype=np.float64)
        t = np.asarray(t, dtype=np.float64)
        if o.shape != t.shape:
            raise ValueError(f"{k}: dlbook gives shape {o.shape}, PyTorch {t.shape}")
        diff = np.abs(o - t)
        if np.isnan(diff).any():
            errors[k] = 0.0 if np.array_equal(np.isnan(o), np.isnan(t)) and np.nanmax(diff, initial=0) == 0 \
                else float("inf")
            continue
        scale = float(np.max(np.abs(t), initial=0.0))
        worst = float(np.max(diff, initial=0.0))
        errors[k] = worst / scale if scale > 0 else worst
    return errors


# ---- helpers for both sides --------------------------------------------------------------
def torch_module() -> Any:
    import torch

    return torch


def leaf(a: np.ndarray) -> Tensor:
    return Tensor(np.array(a), requires_grad=True)


def tleaf(a: np.ndarray, grad: bool = True) -> Any:
    return torch_module().tensor(np.array(a), requires_grad=grad)


def to_numpy(t: Any) -> np.ndarray:
    return t.detach().numpy().copy()


def ours_backward(outputs: list[Tensor], grads: list[np.ndarray]) -> None:
    """Backpropagate upstream gradient ``grads[i]`` into ``outputs[i]``, all at once."""
    if len(outputs) == 1:
        outputs[0].backward(grads[0])
        return
    total = (outputs[0] * Tensor(grads[0])).sum()
    for o, g in zip(outputs[1:], grads[1:]):
        total = total + (o * Tensor(g)).sum()
    total.backward()


def theirs_backward(outputs: list[Any], grads: list[np.ndarray]) -> None:
    torch = torch_module()
    torch.autograd.backward(outputs, [torch.tensor(g) for g in grads])


def draw_weights(module: nn.Module, rng: np.random.Generator, scale: float = 0.5) -> Arrays:
    """Every parameter of ``module`` drawn from ``rng`` in sorted-name order, as ``w:<name>``.

    The references therefore depend on dlbook's parameter names and shapes, not on its initialisers.
    """
    return {f"w:{name}": rng.standard_normal(p.shape) * scale for name, p in sorted(module.named_parameters())}


def load_ours(module: nn.Module, inputs: Arrays) -> nn.Module:
    module.load_state_dict({k[2:]: v for k, v in inputs.items() if k.startswith("w:")})
    return module


def ours_grads(module: nn.Module, inputs: Arrays) -> Arrays:
    params = dict(module.named_parameters())
    return {f"grad:{k[2:]}": params[k[2:]].grad for k in inputs if k.startswith("w:")}


def torch_name(name: str) -> str:
    """dlbook's parameter name → PyTorch's: packed attention projections and stacked layers differ."""
    name = name.replace("in_proj.weight", "in_proj_weight").replace("in_proj.bias", "in_proj_bias")
    return re.sub(r"layers_(\d+)", r"layers.\1", name)


def load_theirs(module: Any, inputs: Arrays) -> Any:
    torch = torch_module()
    module.double()
    module.load_state_dict({torch_name(k[2:]): torch.tensor(v) for k, v in inputs.items() if k.startswith("w:")},
                           strict=True)
    return module


def theirs_grads(module: Any, inputs: Arrays) -> Arrays:
    params = dict(module.named_parameters())
    return {f"grad:{k[2:]}": to_numpy(params[torch_name(k[2:])].grad) for k in inputs if k.startswith("w:")}


def gelu_tanh(x: Any) -> Any:
    """dlbook's GELU is the tanh approximation (GPT-2's); PyTorch's "gelu" string means the exact erf form."""
    return torch_module().nn.functional.gelu(x, approximate="tanh")


def torch_activation(name: str) -> Any:
    return gelu_tanh if name == "gelu" else torch_module().nn.functional.relu


# ---- activations, losses, LayerNorm, Linear, Embedding -------------------------------------
def _elementwise(name: str, ours_fn: Callable[[Tensor], Tensor], theirs_fn: Callable[[Any, Any], Any]) -> None:
    def make(rng: np.random.Generator) -> Arrays:
        x = rng.standard_normal((3, 4, 5)) * 3
        x.flat[::7] = 0.0                      # exact zeros: ReLU's gradient there is 0 in both
        x.flat[3], x.flat[5] = 40.0, -40.0     # saturated sigmoid/tanh, a dominant softmax entry
        return {"x": x, "g": rng.standard_normal(x.shape)}

    def ours(inp: Arrays) -> Arrays:
        x = leaf(inp["x"])
        y = ours_fn(x)
        y.backward(inp["g"])
        return {"out": y.data, "grad:x": x.grad}

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        x = tleaf(inp["x"])
        y = theirs_fn(torch, x)
        y.backward(torch.tensor(inp["g"]))
        return {"out": to_numpy(y), "grad:x": to_numpy(x.grad)}

    add_case(name, make, ours, theirs)


_elementwise("relu", F.relu, lambda t, x: t.relu(x))
_elementwise("gelu_tanh", F.gelu, lambda t, x: gelu_tanh(x))
_elementwise("sigmoid", F.sigmoid, lambda t, x: t.sigmoid(x))
_elementwise("tanh", F.tanh, lambda t, x: t.tanh(x))
_elementwise("softmax_last_axis", lambda x: F.softmax(x, -1), lambda t, x: t.softmax(x, -1))
_elementwise("softmax_axis1", lambda x: F.softmax(x, 1), lambda t, x: t.softmax(x, 1))
_elementwise("log_softmax_last_axis", lambda x: F.log_softmax(x, -1), lambda t, x: t.log_softmax(x, -1))
_elementwise("log_softmax_axis0", lambda x: F.log_softmax(x, 0), lambda t, x: t.log_softmax(x, 0))
_elementwise("layer_norm_no_affine", F.layer_norm, lambda t, x: t.nn.functional.layer_norm(x, (5,)))


def _cross_entropy(name: str, shape: tuple[int, ...], ignore: int | None, scale: float = 3.0) -> None:
    def make(rng: np.random.Generator) -> Arrays:
        y = rng.integers(0, shape[-1], shape[:-1])
        if ignore is not None:
            y.flat[::3] = ignore
        return {"logits": rng.standard_normal(shape) * scale, "targets": y, "g": np.array(rng.uniform(0.5, 2))}

    def ours(inp: Arrays) -> Arrays:
        z = leaf(inp["logits"])
        loss = F.cross_entropy(z, inp["targets"], ignore_index=ignore)
        loss.backward(inp["g"])
        return {"loss": loss.data, "grad:logits": z.grad}

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        z = tleaf(inp["logits"])
        loss = torch.nn.functional.cross_entropy(z.reshape(-1, shape[-1]), torch.tensor(inp["targets"]).reshape(-1),
                                                 ignore_index=-100 if ignore is None else ignore)
        loss.backward(torch.tensor(inp["g"]))
        return {"loss": to_numpy(loss), "grad:logits": to_numpy(z.grad)}

    add_case(name, make, ours, theirs)


_cross_entropy("cross_entropy_2d", (6, 5), None)
_cross_entropy("cross_entropy_3d_ignore_index_-100", (2, 5, 7), -100)
_cross_entropy("cross_entropy_ignore_a_class", (8, 4), 2)
_cross_entropy("cross_entropy_large_logits", (5, 6), None, scale=300.0)


def _mse_make(rng: np.random.Generator) -> Arrays:
    return {"pred": rng.standard_normal((4, 3)), "target": rng.standard_normal((4, 3)), "g": np.array(1.3)}


def _mse_ours(inp: Arrays) -> Arrays:
    p, t = leaf(inp["pred"]), leaf(inp["target"])
    loss = F.mse_loss(p, t)
    loss.backward(inp["g"])
    return {"loss": loss.data, "grad:pred": p.grad, "grad:target": t.grad}


def _mse_theirs(inp: Arrays) -> Arrays:
    torch = torch_module()
    p, t = tleaf(inp["pred"]), tleaf(inp["target"])
    loss = torch.nn.functional.mse_loss(p, t)
    loss.backward(torch.tensor(inp["g"]))
    return {"loss": to_numpy(loss), "grad:pred": to_numpy(p.grad), "grad:target": to_numpy(t.grad)}


add_case("mse_loss", _mse_make, _mse_ours, _mse_theirs)


def _module_case(name: str, build_ours: Callable[[], nn.Module], build_theirs: Callable[[Any], Any],
                 x_of: Callable[[np.random.Generator], Arrays], scale: float = 0.5) -> None:
    """A one-input module (LayerNorm, Linear, Embedding): output and gradients of the input and weights."""

    def make(rng: np.random.Generator) -> Arrays:
        inp = {**draw_weights(build_ours(), rng, scale), **x_of(rng)}
        return inp

    def ours(inp: Arrays) -> Arrays:
        m = load_ours(build_ours(), inp)
        floating = inp["x"].dtype.kind == "f"
        x = leaf(inp["x"]) if floating else inp["x"]
        y = m(x)
        y.backward(inp["g"])
        return {"out": y.data, **({"grad:x": x.grad} if floating else {}), **ours_grads(m, inp)}

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        m = load_theirs(build_theirs(torch), inp)
        floating = inp["x"].dtype.kind == "f"
        x = tleaf(inp["x"]) if floating else torch.tensor(inp["x"])
        y = m(x)
        y.backward(torch.tensor(inp["g"]))
        return {"out": to_numpy(y), **({"grad:x": to_numpy(x.grad)} if floating else {}), **theirs_grads(m, inp)}

    add_case(name, make, ours, theirs)


_module_case("layer_norm", lambda: nn.LayerNorm(6), lambda t: t.nn.LayerNorm(6),
             lambda rng: {"x": rng.standard_normal((3, 4, 6)), "g": rng.standard_normal((3, 4, 6))}, scale=1.0)
# variance 1e-4 on a mean of 50: eps = 1e-5 matters and the mean must be removed before squaring
_module_case("layer_norm_offset", lambda: nn.LayerNorm(6), lambda t: t.nn.LayerNorm(6),
             lambda rng: {"x": 50 + 0.01 * rng.standard_normal((5, 6)), "g": rng.standard_normal((5, 6))}, scale=1.0)
_module_case("linear", lambda: nn.Linear(5, 3, rng=np.random.default_rng(0)), lambda t: t.nn.Linear(5, 3),
             lambda rng: {"x": rng.standard_normal((2, 4, 5)), "g": rng.standard_normal((2, 4, 3))})
_module_case("embedding_repeated_ids", lambda: nn.Embedding(6, 4, rng=np.random.default_rng(0)),
             lambda t: t.nn.Embedding(6, 4),
             lambda rng: {"x": np.array([[0, 3, 3, 5], [3, 1, 0, 3]]), "g": rng.standard_normal((2, 4, 4))})


# ---- convolution and pooling ---------------------------------------------------------------
def _out(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _pair(v: int | tuple[int, int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else v


def _conv(name: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any, padding: Any,
          bias: bool = True) -> None:
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    g_shape = (x_shape[0], w_shape[0], _out(x_shape[2], w_shape[2], sh, ph), _out(x_shape[3], w_shape[3], sw, pw))

    def make(rng: np.random.Generator) -> Arrays:
        inp = {"x": rng.standard_normal(x_shape), "w": rng.standard_normal(w_shape), "g": rng.standard_normal(g_shape)}
        if bias:
            inp["b"] = rng.standard_normal(w_shape[0])
        return inp

    def run_ours(op: Callable[..., Tensor]) -> Callable[[Arrays], Arrays]:
        def ours(inp: Arrays) -> Arrays:
            leaves = {k: leaf(inp[k]) for k in ("x", "w", "b") if k in inp}
            y = op(leaves["x"], leaves["w"], leaves.get("b"), stride=stride, padding=padding)
            y.backward(inp["g"])
            return {"out": y.data, **{f"grad:{k}": t.grad for k, t in leaves.items()}}
        return ours

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        leaves = {k: tleaf(inp[k]) for k in ("x", "w", "b") if k in inp}
        y = torch.nn.functional.conv2d(leaves["x"], leaves["w"], leaves.get("b"), stride=stride, padding=padding)
        y.backward(torch.tensor(inp["g"]))
        return {"out": to_numpy(y), **{f"grad:{k}": to_numpy(t.grad) for k, t in leaves.items()}}

    # the fast kernel the models run and the readable one the chapter shows, against the same PyTorch numbers
    add_case(f"conv2d_{name}", make, run_ours(F.conv2d), theirs)
    add_case(f"conv2d_reference_{name}", make, run_ours(F.conv2d_reference), theirs)


_conv("3x3_valid", (2, 3, 6, 6), (4, 3, 3, 3), 1, 0)
_conv("3x2_stride21_pad10", (2, 3, 9, 8), (4, 3, 3, 2), (2, 1), (1, 0))
_conv("5x3_stride2_pad2_nobias", (1, 2, 7, 10), (3, 2, 5, 3), 2, 2, bias=False)
_conv("1x1_stride3_gaps", (3, 2, 8, 7), (2, 2, 1, 1), 3, 0)
_conv("3x3_stride12_pad1", (2, 4, 5, 7), (6, 4, 3, 3), (1, 2), 1)


def _pool(name: str, kind: str, x_shape: tuple[int, ...], kernel: Any, stride: Any, padding: Any,
          ties: bool = False) -> None:
    (kh, kw), (ph, pw) = _pair(kernel), _pair(padding)
    sh, sw = _pair(kernel if stride is None else stride)
    g_shape = (*x_shape[:2], _out(x_shape[2], kh, sh, ph), _out(x_shape[3], kw, sw, pw))
    ours_op = F.max_pool2d if kind == "max" else F.avg_pool2d

    def make(rng: np.random.Generator) -> Arrays:
        # ties: small integers, so most windows hold several equal maxima
        x = rng.integers(0, 3, x_shape).astype(np.float64) if ties else rng.standard_normal(x_shape)
        return {"x": x, "g": rng.standard_normal(g_shape)}

    def ours(inp: Arrays) -> Arrays:
        x = leaf(inp["x"])
        y = ours_op(x, kernel, stride, padding)
        y.backward(inp["g"])
        return {"out": y.data, "grad:x": x.grad}

    def theirs(inp: Arrays) -> Arrays:
        torch = torch_module()
        x = tleaf(inp["x"])
        op = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
        y = op(x, kernel, stride, padding)   # avg: zero padding counted in the divisor, as dlbook
        y.backward(torch.tensor(inp["g"]))
        return {"out": to_numpy(y), "grad:x": to_numpy(x.grad)}

    add_case(f"{kind}_pool2d_{name}", make, ours, theirs)


_pool("k2_s2_tiles", "max", (2, 3, 8, 8), 2, None, 0)
_pool("k2_s2_ragged_edge", "max", (2, 2, 9, 7), 2, 2, 0)
_pool("k3_s2_p1_overlap", "max", (2, 3, 9, 8), 3, 2, 1)
_pool("k3_s1_overlap", "max", (1, 2, 6, 7), 3, 1, 0)
_pool("k1_s2_gaps", "max", (1, 2, 7, 7), 1, 2, 0)
_pool("k2_s3_gaps", "max", (2, 2, 8, 9), 2, 3, 0)
_pool("k23_s34_p1_gaps", "max", (1, 3, 9, 11), (2, 3), (3, 4), 1)
_pool("ties_k2_s2", "max", (2, 2, 6, 6), 2, 2, 0, ties=True)
_pool("ties_k3_s2_p1_overlap", "max", (2, 2, 7, 8), 3, 2, 1, ties=True)
_pool("ties_k3_s1_overlap", "max", (1, 2, 6, 6), 3, 1, 0, ties=True)
_pool("ties_k2_s3_gaps", "max", (1, 2, 8, 8), 2, 3, 0, ties=True)
_pool("k2_s2", "avg", (2, 3, 8, 8), 2, None, 0)
_pool("k3_s2_p1_overlap", "avg", (2, 3, 9, 8), 3, 2, 1)
_pool("k2_s3_gaps", "avg", (2, 2, 8, 9), 2, 3, 0)
_pool("k23_s12", "avg", (1, 2, 6, 7), (2, 3), (1, 2), 0)
