"""Autograd: one gradient check over the whole op table, backward semantics, stability and bad input.

Every op in ``dlbook.functional`` (the spine's ops) has at least one entry in ``OPS``; each entry
draws its shapes with hypothesis (broadcasting included) and its values from a drawn seed, and
``gradcheck`` compares ``backward`` with central differences (eq-central-difference) in float64.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dlbook import functional as F
from dlbook import nn, optim
from dlbook.autograd import Context, Function, Tensor, _topological_order, no_grad
from dlbook.gradcheck import gradcheck, numerical_grad

Builder = Callable[[st.DataObject], tuple[Callable[..., Tensor], list[Tensor]]]


# ---- value helpers ----------------------------------------------------------
def _rng(data: st.DataObject) -> np.random.Generator:
    return np.random.default_rng(data.draw(st.integers(0, 2**31 - 1), label="seed"))


def _t(x: np.ndarray) -> Tensor:
    return Tensor(np.asarray(x, dtype=np.float64), requires_grad=True)


def _normal(rng: np.random.Generator, shape: tuple[int, ...]) -> Tensor:
    return _t(rng.standard_normal(shape))


def _positive(rng: np.random.Generator, shape: tuple[int, ...]) -> Tensor:
    return _t(rng.uniform(0.5, 2.0, shape))


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> Tensor:
    """Values with |x| in [0.2, 2]: no kink of relu/max within h of a point."""
    return _t(rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape))


def _distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> Tensor:
    """Entries at least 0.1 apart, so max has no ties."""
    n = int(np.prod(shape))
    return _t((rng.permutation(n) * 0.1 + rng.uniform(0, 0.01, n)).reshape(shape) - 0.05 * n)


_shape = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
_shape_1 = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def _two_broadcast(data: st.DataObject) -> tuple[tuple[int, ...], tuple[int, ...]]:
    bs = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4))
    return bs.input_shapes


def _axis(data: st.DataObject, ndim: int) -> int | tuple[int, ...] | None:
    if ndim == 0:
        return None
    choice = data.draw(st.sampled_from(["none", "int", "tuple"]))
    if choice == "none":
        return None
    if choice == "int":
        return data.draw(st.integers(-ndim, ndim - 1))
    return tuple(data.draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)))


# ---- the op table: name -> (functional op it covers, builder) ---------------
OPS: dict[str, tuple[str, Builder]] = {}


def op(name: str, covers: str) -> Callable[[Builder], Builder]:
    def register(builder: Builder) -> Builder:
        OPS[name] = (covers, builder)
        return builder
    return register


def _binary(name: str, fn: Callable[[Tensor, Tensor], Tensor], positive_b: bool = False) -> None:
    @op(name, name)
    def build(data: st.DataObject) -> tuple:
        rng = _rng(data)
        sa, sb = _two_broadcast(data)
        b = _t(rng.uniform(0.5, 2.0, sb) * rng.choice([-1.0, 1.0], sb)) if positive_b else _normal(rng, sb)
        return fn, [_normal(rng, sa), b]


_binary("add", lambda a, b: a + b)
_binary("sub", lambda a, b: a - b)
_binary("mul", lambda a, b: a * b)
_binary("div", lambda a, b: a / b, positive_b=True)


@op("scalar_operands", "add")
def _scalar_operands(data: st.DataObject) -> tuple:
    x = _normal(_rng(data), data.draw(_shape))
    return (lambda a: 2.0 - a * 3.0 + 1.5 / (a * a + 1.0) - (-a)), [x]


def _unary(name: str, fn: Callable[[Tensor], Tensor], values: Callable = _normal) -> None:
    @op(name, name)
    def build(data: st.DataObject) -> tuple:
        return fn, [values(_rng(data), data.draw(_shape))]


_unary("neg", lambda a: -a)
_unary("exp", F.exp)
_unary("log", F.log, _positive)
_unary("sqrt", F.sqrt, _positive)
_unary("tanh", F.tanh)
_unary("sigmoid", F.sigmoid)
_unary("relu", F.relu, _away_from_zero)
_unary("gelu", F.gelu)


@op("pow", "pow")
def _pow(data: st.DataObject) -> tuple:
    p = data.draw(st.sampled_from([2, 3, 0.5, -1.5, 1.7]))
    return (lambda a: a**p), [_positive(_rng(data), data.draw(_shape))]


@op("matmul_2d", "matmul")
def _matmul_2d(data: st.DataObject) -> tuple:
    rng = _rng(data)
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    return F.matmul, [_normal(rng, (n, k)), _normal(rng, (k, m))]


@op("matmul_batched_broadcast", "matmul")
def _matmul_batched(data: st.DataObject) -> tuple:
    """(B1, n, k) @ (B2, k, m) with B1, B2 mutually broadcastable (batch axes may be missing or 1)."""
    rng = _rng(data)
    ba, bb = _two_broadcast(data)
    n, k, m = (data.draw(st.integers(1, 3)) for _ in range(3))
    return F.matmul, [_normal(rng, (*ba, n, k)), _normal(rng, (*bb, k, m))]


@op("matmul_vector", "matmul")
def _matmul_vector(data: st.DataObject) -> tuple:
    rng = _rng(data)
    k = data.draw(st.integers(1, 4))
    left = data.draw(st.sampled_from([(k,), (3, k), (2, 3, k)]))
    right = data.draw(st.sampled_from([(k,), (k, 2), (2, k, 2)]))
    return F.matmul, [_normal(rng, left), _normal(rng, right)]


@op("linear", "linear")
def _linear(data: st.DataObject) -> tuple:
    rng = _rng(data)
    lead = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=3))
    fin, fout = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    inputs = [_normal(rng, (*lead, fin)), _normal(rng, (fout, fin))]
    if data.draw(st.booleans()):
        inputs.append(_normal(rng, (fout,)))
    return F.linear, inputs


def _reduction(name: str, values: Callable = _normal) -> None:
    @op(name, name)
    def build(data: st.DataObject) -> tuple:
        shape = data.draw(_shape)
        axis, keepdims = _axis(data, len(shape)), data.draw(st.booleans())
        fn = getattr(F, name)
        return (lambda a: fn(a, axis=axis, keepdims=keepdims)), [values(_rng(data), shape)]


_reduction("sum")
_reduction("mean")
_reduction("max", _distinct)


@op("max_ties", "max")
def _max_ties(data: st.DataObject) -> tuple:
    """Ties share the gradient; checked on a function that is smooth in the tied direction."""
    x = _normal(_rng(data), (3, 4))
    return (lambda a: F.max(F.concatenate([a, a], axis=1), axis=1)), [x]


@op("reshape", "reshape")
def _reshape(data: st.DataObject) -> tuple:
    shape = data.draw(_shape_1)
    n = int(np.prod(shape))
    new = data.draw(st.sampled_from([(n,), (-1,), (1, n), (n, 1, -1)]))
    return (lambda a: F.reshape(a, new) * 1.0), [_normal(_rng(data), shape)]


@op("transpose", "transpose")
def _transpose(data: st.DataObject) -> tuple:
    shape = data.draw(_shape_1)
    axes = data.draw(st.permutations(range(len(shape))))
    use_none = data.draw(st.booleans())
    return (lambda a: F.transpose(a, None if use_none else axes)), [_normal(_rng(data), shape)]


@op("getitem_basic", "getitem")
def _getitem_basic(data: st.DataObject) -> tuple:
    x = _normal(_rng(data), (4, 5))
    index = data.draw(st.sampled_from([(slice(1, 3),), (slice(None), 2), (-1,), (slice(None, None, 2), slice(1, 4))]))
    return (lambda a: a[index]), [x]


@op("getitem_fancy_repeated", "getitem")
def _getitem_fancy(data: st.DataObject) -> tuple:
    """Repeated fancy indices: the scattered gradient must add up (np.add.at, not assignment)."""
    x = _normal(_rng(data), (4, 3))
    rows = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=6))
    cols = data.draw(st.lists(st.integers(0, 2), min_size=len(rows), max_size=len(rows)))
    both = data.draw(st.booleans())
    return (lambda a: a[rows, cols] if both else a[rows]), [x]


@op("concatenate", "concatenate")
def _concatenate(data: st.DataObject) -> tuple:
    rng = _rng(data)
    shape = data.draw(_shape_1)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for _ in range(data.draw(st.integers(1, 3))):
        s = list(shape)
        s[axis] = data.draw(st.integers(1, 3))
        parts.append(_normal(rng, tuple(s)))
    return (lambda *ts: F.concatenate(ts, axis=axis)), parts


@op("stack", "stack")
def _stack(data: st.DataObject) -> tuple:
    rng = _rng(data)
    shape = data.draw(_shape)
    axis = data.draw(st.integers(-(len(shape) + 1), len(shape)))
    parts = [_normal(rng, shape) for _ in range(data.draw(st.integers(1, 3)))]
    return (lambda *ts: F.stack(ts, axis=axis)), parts


def _softmaxlike(name: str) -> None:
    @op(name, name)
    def build(data: st.DataObject) -> tuple:
        shape = data.draw(_shape_1)
        axis = data.draw(st.integers(-len(shape), len(shape) - 1))
        fn = getattr(F, name)
        return (lambda a: fn(a, axis=axis)), [_normal(_rng(data), shape)]


_softmaxlike("softmax")
_softmaxlike("log_softmax")


@op("mse_loss", "mse_loss")
def _mse(data: st.DataObject) -> tuple:
    rng = _rng(data)
    shape = data.draw(_shape)
    return F.mse_loss, [_normal(rng, shape), _normal(rng, shape)]


@op("cross_entropy", "cross_entropy")
def _cross_entropy(data: st.DataObject) -> tuple:
    rng = _rng(data)
    lead = data.draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4))
    c = data.draw(st.integers(1, 5))
    targets = rng.integers(0, c, lead)
    ignore = data.draw(st.sampled_from([None, 0]))
    if ignore is not None and np.all(targets == ignore):
        ignore = None  # a batch with every target ignored has no mean loss: refused, see the test below
    z = _normal(rng, (*lead, c)) * 3.0
    z = _t(z.data)
    return (lambda a: F.cross_entropy(a, targets, ignore_index=ignore)), [z]


# ---- reused inputs: gradients from several uses must add up -----------------
@op("reuse_square", "mul")
def _reuse_square(data: st.DataObject) -> tuple:
    return (lambda x: x * x), [_normal(_rng(data), data.draw(_shape))]


@op("reuse_two_branches", "add")
def _reuse_two_branches(data: st.DataObject) -> tuple:
    """x feeds two branches that meet again, and a broadcast weight is reused."""
    rng = _rng(data)
    x, w = _normal(rng, (3, 4)), _normal(rng, (4,))

    def f(x: Tensor, w: Tensor) -> Tensor:
        h = F.tanh(x * w)
        return F.sigmoid(h) * F.exp(x * 0.5) + (h * w).sum(axis=1, keepdims=True) + x.mean()

    return f, [x, w]


@op("mlp_layer_chain", "linear")
def _mlp_chain(data: st.DataObject) -> tuple:
    rng = _rng(data)
    x, w1, b1, w2 = _normal(rng, (5, 3)), _normal(rng, (4, 3)), _normal(rng, (4,)), _normal(rng, (2, 4))
    y = rng.integers(0, 2, 5)
    return (lambda x, w1, b1, w2: F.cross_entropy(F.linear(F.gelu(F.linear(x, w1, b1)), w2), y)), [x, w1, b1, w2]


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_gradcheck_every_op(name: str, data: st.DataObject) -> None:
    """Verifies (eq-central-difference) against every op's backward, over generated shapes."""
    _, build = OPS[name]
    fn, inputs = build(data)
    assert gradcheck(fn, inputs)


SPINE_OPS = {
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "sqrt", "matmul", "linear", "sum", "mean", "max",
    "reshape", "transpose", "getitem", "concatenate", "stack", "tanh", "sigmoid", "relu", "gelu", "softmax",
    "log_softmax", "mse_loss", "cross_entropy",
}


def test_op_table_covers_every_spine_op() -> None:
    covered = {covers for covers, _ in OPS.values()}
    assert SPINE_OPS <= set(F.__all__)
    assert SPINE_OPS - covered == set()


# ---- gradcheck itself ---------------------------------------------------------
class WrongSquare(Function):
    """x² with a deliberately wrong derivative (x instead of 2x)."""

    @staticmethod
    def forward(ctx: Context, a: np.ndarray) -> np.ndarray:
        ctx.save(a)
        return a * a

    @staticmethod
    def backward(ctx: Context, g: np.ndarray) -> np.ndarray:
        (a,) = ctx.saved
        return g * a


def test_gradcheck_catches_a_wrong_backward() -> None:
    x = _t(np.array([1.0, -2.0, 3.0]))
    with pytest.raises(AssertionError, match=r"inputs\[0\] gradient mismatch"):
        gradcheck(WrongSquare.apply, [x])


def test_numerical_grad_matches_closed_form() -> None:
    """Verifies (eq-central-difference): the derivative of sin at a few points is cos."""
    x = np.array([0.0, 0.5, -1.2])
    g = numerical_grad(lambda: np.sum(np.sin(x)), x)
    np.testing.assert_allclose(g, np.cos(x), atol=1e-8)


def test_linear_layer_matches_a_naive_loop() -> None:
    """Verifies (eq-layer): y_i = f(Σ_j W_ij x_j + b_i) neuron by neuron, against F.linear and nn.Linear."""
    rng = np.random.default_rng(3)
    layer = nn.Linear(4, 3, rng=rng)
    X = rng.standard_normal((5, 4))
    W, b = layer.weight.data, layer.bias.data
    naive = np.zeros((5, 3))
    for n in range(5):
        for i in range(3):
            naive[n, i] = np.tanh(sum(W[i, j] * X[n, j] for j in range(4)) + b[i])
    np.testing.assert_allclose(F.tanh(layer(Tensor(X))).data, naive, rtol=1e-12)
    np.testing.assert_allclose(F.tanh(F.linear(Tensor(X), W, b)).data, naive, rtol=1e-12)


def test_backprop_by_the_delta_recursion() -> None:
    """The errors δ of a three-layer network computed by hand, top to bottom, give autograd's gradients:
    ∂E/∂W = δ xᵀ and ∂E/∂b = δ per layer, δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾ᵀ δ⁽ˡ⁺¹⁾) ⊙ f′(z⁽ˡ⁾).
    Verifies (eq-weight-grad) and (eq-delta)."""
    rng = np.random.default_rng(8)
    sizes = [4, 5, 3, 2]
    Ws = [rng.standard_normal((o, i)) for i, o in zip(sizes, sizes[1:])]
    bs = [rng.standard_normal(o) for o in sizes[1:]]
    x, t = rng.standard_normal(4), rng.standard_normal(2)
    # by hand: forward keeping every layer's input x⁽ˡ⁾, then the δ recursion (tanh hidden layers, linear output)
    xs, a = [], x
    for layer, (W, b) in enumerate(zip(Ws, bs)):
        xs.append(a)
        z = W @ a + b
        a = np.tanh(z) if layer < len(Ws) - 1 else z
    delta = 2 * (a - t) / t.size                     # E = mean squared error (eq-mse)
    hand_W, hand_b = [None] * 3, [None] * 3
    for layer in reversed(range(3)):
        hand_W[layer], hand_b[layer] = np.outer(delta, xs[layer]), delta
        if layer:
            delta = (Ws[layer].T @ delta) * (1 - xs[layer] ** 2)    # f′(z) = 1 − tanh²(z), and tanh(z) = x⁽ˡ⁺¹⁾
    # autograd
    params = [_t(p.copy()) for pair in zip(Ws, bs) for p in pair]
    h = Tensor(x)
    for layer in range(3):
        h = F.linear(h, params[2 * layer], params[2 * layer + 1])
        h = F.tanh(h) if layer < 2 else h
    F.mse_loss(h, t).backward()
    for layer in range(3):
        np.testing.assert_allclose(params[2 * layer].grad, hand_W[layer], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(params[2 * layer + 1].grad, hand_b[layer], rtol=1e-12, atol=1e-15)


# ---- backward semantics ---------------------------------------------------------
def test_chain_rule_on_a_composite_matches_hand_derivative() -> None:
    """Verifies (eq-chain-rule): d/dx sigmoid(w x + b)² by hand."""
    x, w, b = _t(np.array(0.7)), _t(np.array(-1.3)), _t(np.array(0.2))
    y = F.sigmoid(w * x + b) ** 2
    y.backward()
    s = 1 / (1 + np.exp(-(-1.3 * 0.7 + 0.2)))
    dz = 2 * s * s * (1 - s)
    np.testing.assert_allclose([x.grad, w.grad, b.grad], [dz * -1.3, dz * 0.7, dz], rtol=1e-12)


def test_gradients_accumulate_on_leaves_across_backward_calls() -> None:
    x = _t(np.array([1.0, 2.0, 3.0]))
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 3.0)
    x.zero_grad()
    assert x.grad is None


def test_a_fresh_graph_is_differentiated_correctly_again() -> None:
    x = _t(np.array([0.5, -1.0]))
    for step in range(3):
        x.grad = None
        y = (F.exp(x) * (step + 1.0)).sum()
        y.backward()
        np.testing.assert_allclose(x.grad, (step + 1.0) * np.exp(x.data))


def test_the_same_graph_can_be_differentiated_twice() -> None:
    x = _t(np.array([0.3, 0.4]))
    y = F.tanh(x).sum()
    y.backward()
    first = x.grad.copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_no_grad_records_nothing() -> None:
    x = _t(np.ones(3))
    with no_grad():
        y = F.sigmoid(x * 2.0).sum()
    assert not y.requires_grad and y._parents == () and y._fn is None
    with pytest.raises(ValueError, match="does not require grad"):
        y.backward()
    z = (x * 2.0).sum()  # recording is back on after the block
    assert z.requires_grad


def test_constants_get_no_gradient() -> None:
    x, c = _t(np.ones(2)), Tensor(np.array([2.0, 3.0]))
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad, [2.0, 3.0])


def test_topological_order_puts_inputs_first() -> None:
    x = _t(np.ones(2))
    a = x * 2.0
    b = F.exp(a)
    y = (a + b).sum()
    order = _topological_order(y)
    pos = {id(t): i for i, t in enumerate(order)}
    assert pos[id(x)] < pos[id(a)] < pos[id(b)] < pos[id(y)]
    assert len(order) == len({id(t) for t in order})


def test_backward_of_a_non_scalar_needs_grad() -> None:
    x = _t(np.ones((2, 3)))
    y = x * 2.0
    with pytest.raises(ValueError, match=r"grad can be omitted only for a scalar.*\(2, 3\)"):
        y.backward()
    with pytest.raises(ValueError, match=r"grad must have shape \(2, 3\), got \(3,\)"):
        y.backward(np.ones(3))
    y.backward(np.full((2, 3), 0.5))
    np.testing.assert_allclose(x.grad, np.ones((2, 3)))


def test_deep_chain_does_not_hit_the_recursion_limit() -> None:
    x = _t(np.array(1.0))
    y = x
    for _ in range(3000):
        y = y * 1.0
    y.backward()
    assert x.grad == 1.0


# ---- cross-entropy stability ------------------------------------------------------
def test_cross_entropy_is_stable_for_huge_logits() -> None:
    """Verifies (eq-cross-entropy) for logits of ±1e4: finite, and equal to the closed form."""
    logits = _t(np.array([[1e4, -1e4, 0.0], [1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]]))
    targets = np.array([0, 1, 2])
    loss = F.cross_entropy(logits, targets)
    # row 0: −log softmax = log(1 + e^−2e4 + e^−1e4) = 0; row 1: 2e4; row 2: 0.
    np.testing.assert_allclose(loss.item(), 2e4 / 3, rtol=1e-12)
    loss.backward()
    assert np.all(np.isfinite(logits.grad))
    expected = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.0], [0.0, 0.0, 0.0]]) / 3
    np.testing.assert_allclose(logits.grad, expected, atol=1e-12)


def test_cross_entropy_matches_the_naive_formula() -> None:
    """Verifies (eq-cross-entropy) and (eq-softmax) against −log(e^z_y / Σ e^z) written out."""
    rng = np.random.default_rng(1)
    z, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    naive = -np.mean(np.log(np.exp(z)[np.arange(6), y] / np.exp(z).sum(axis=1)))
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), y).item(), naive, rtol=1e-12)
    np.testing.assert_allclose(F.softmax(Tensor(z)).data, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(F.log_softmax(Tensor(z)).data, np.log(F.softmax(Tensor(z)).data))


def test_cross_entropy_ignore_index_skips_targets() -> None:
    z = np.array([[2.0, 0.0], [0.0, 5.0], [1.0, 1.0]])
    full = F.cross_entropy(Tensor(z[:2]), np.array([0, 1])).item()
    np.testing.assert_allclose(F.cross_entropy(Tensor(z), np.array([0, 1, -100]), ignore_index=-100).item(), full)


def test_activations_and_mse_match_their_formulas() -> None:
    """Verifies (eq-sigmoid), (eq-tanh), (eq-relu), (eq-gelu) and (eq-mse) on a grid, values and derivatives."""
    z = np.linspace(-4, 4, 17)
    s = 1 / (1 + np.exp(-z))
    gelu = 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))
    for fn, value in ((F.sigmoid, s), (F.tanh, np.tanh(z)), (F.relu, np.maximum(z, 0)), (F.gelu, gelu)):
        np.testing.assert_allclose(fn(Tensor(z)).data, value, atol=1e-12)
    x = _t(z)
    F.sigmoid(x).sum().backward()
    np.testing.assert_allclose(x.grad, s * (1 - s))
    pred, target = np.array([1.0, 2.0, 4.0]), np.array([0.0, 2.0, 1.0])
    assert F.mse_loss(Tensor(pred), target).item() == pytest.approx(10 / 3)


# ---- bad input: the message names the argument ------------------------------------
def test_linear_rejects_a_wrong_input_shape_and_dtype() -> None:
    layer = nn.Linear(3, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"in_features=3, got shape \(4, 5\)"):
        layer(Tensor(np.ones((4, 5))))
    with pytest.raises(TypeError, match="x must hold floating-point numbers, got dtype int64"):
        layer(Tensor(np.ones((4, 3), dtype=np.int64)))
    with pytest.raises(TypeError, match="in_features must be an int"):
        nn.Linear(3.0, 2, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy Generator"):
        nn.Linear(3, 2, rng=0)
    with pytest.raises(ValueError, match=r"weight must be 2-D"):
        F.linear(Tensor(np.ones(3)), Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\), got \(3,\)"):
        F.linear(Tensor(np.ones(3)), Tensor(np.ones((2, 3))), Tensor(np.ones(3)))


def test_matmul_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match=r"a's last axis \(3\) must equal b's second-to-last axis \(4\)"):
        F.matmul(Tensor(np.ones((2, 3))), Tensor(np.ones((4, 5))))
    with pytest.raises(ValueError, match=r"batch axes of a \(2, 1, 3\) and b \(3, 3, 5\) do not broadcast"):
        F.matmul(Tensor(np.ones((2, 1, 3))), Tensor(np.ones((3, 3, 5))))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        F.matmul(Tensor(np.array(2.0)), Tensor(np.ones(3)))


def test_cross_entropy_rejects_bad_shapes_dtypes_and_classes() -> None:
    z = Tensor(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"got logits \(4, 3\) and targets \(3,\)"):
        F.cross_entropy(z, np.zeros(3, dtype=np.int64))
    with pytest.raises(TypeError, match="targets must hold integers, got dtype float64"):
        F.cross_entropy(z, np.zeros(4))
    with pytest.raises(TypeError, match="logits must hold floating-point numbers"):
        F.cross_entropy(Tensor(np.zeros((4, 3), dtype=np.int64)), np.zeros(4, dtype=np.int64))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\), got values in \[0, 3\]"):
        F.cross_entropy(z, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\), got values in \[-1, 2\]"):
        F.cross_entropy(z, np.array([0, -1, 2, 2]))
    with pytest.raises(ValueError, match=r"pred and target must have the same shape, got \(4, 3\) and \(3,\)"):
        F.mse_loss(z, np.zeros(3))


def test_losses_refuse_a_batch_with_nothing_to_average() -> None:
    """An empty or fully-ignored batch has no mean loss: a clear ValueError, not a silent -0.0 with zero grads (S7)."""
    with pytest.raises(ValueError, match=r"cross_entropy: no target to average over: targets has shape \(3,\) "
                                         r"and all of them equal ignore_index=-100"):
        F.cross_entropy(Tensor(np.zeros((3, 5))), np.full(3, -100), ignore_index=-100)
    with pytest.raises(ValueError, match=r"no target to average over: targets has shape \(0,\)$"):
        F.cross_entropy(Tensor(np.zeros((0, 5))), np.zeros(0, dtype=np.int64))
    with pytest.raises(ValueError, match=r"targets has shape \(0, 4\)"):
        nn.CrossEntropyLoss()(Tensor(np.zeros((0, 4, 5))), np.zeros((0, 4), dtype=np.int64))
    with pytest.raises(ValueError, match=r"mse_loss: pred and target are empty \(shape \(0, 2\)\)"):
        F.mse_loss(Tensor(np.zeros((0, 2))), np.zeros((0, 2)))
    # one kept target is enough, and it alone sets the mean
    z = np.array([[0.0, 1.0], [3.0, 0.0]])
    one = F.cross_entropy(Tensor(z), np.array([-100, 0]), ignore_index=-100).item()
    assert one == pytest.approx(np.log1p(np.exp(-3.0)))


def test_gradcheck_rejects_float32_and_non_tensors() -> None:
    with pytest.raises(TypeError, match=r"inputs\[0\] must be float64 .* got float32"):
        gradcheck(F.exp, [Tensor(np.ones(2, dtype=np.float32), requires_grad=True)])
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a Tensor, got ndarray"):
        gradcheck(F.add, [_t(np.ones(2)), np.ones(2)])
    with pytest.raises(TypeError, match="inputs must be a non-empty list"):
        gradcheck(F.exp, [])
    with pytest.raises(ValueError, match="requires_grad=True"):
        gradcheck(F.exp, [Tensor(np.ones(2))])
    with pytest.raises(TypeError, match="x must be a float64 ndarray"):
        numerical_grad(lambda: 0.0, np.ones(2, dtype=np.float32))


def test_optimisers_reject_bad_hyperparameters() -> None:
    p = [nn.Parameter(np.ones(2))]
    with pytest.raises(ValueError, match=r"lr must be a finite number >= 0, got -0.1"):
        optim.SGD(p, lr=-0.1)
    with pytest.raises(TypeError, match="lr must be a number, got str"):
        optim.Adam(p, lr="0.1")
    with pytest.raises(ValueError, match=r"momentum must lie in \[0, 1\), got 1.0"):
        optim.SGD(p, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match=r"betas\[1\] must lie in \[0, 1\), got 1.5"):
        optim.Adam(p, betas=(0.9, 1.5))
    with pytest.raises(TypeError, match=r"betas must be a pair"):
        optim.AdamW(p, betas=0.9)
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        optim.AdamW(p, weight_decay=-1.0)
    with pytest.raises(ValueError, match="params .*empty"):
        optim.Adam([])
    with pytest.raises(TypeError, match=r"params\[0\] must be a Parameter, got ndarray"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="max_norm must be a finite number >= 0"):
        optim.clip_grad_norm(p, -1.0)
    with pytest.raises(ValueError, match="warmup_steps=5, total_steps=3"):
        optim.warmup_cosine(0, total_steps=3, warmup_steps=5, max_lr=1.0)


def test_tensor_rejects_non_numeric_data() -> None:
    with pytest.raises(TypeError, match="Tensor data must be numeric, got dtype <U1"):
        Tensor(np.array(["a"]))
    with pytest.raises(TypeError, match="exponent must be a Python number"):
        F.pow(_t(np.ones(2)), np.ones(2))
