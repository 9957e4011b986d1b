"""Modules, parameters, checkpoints; optimisers and schedules against their update formulas by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlbook import functional as F
from dlbook import nn, optim
from dlbook.autograd import Tensor
from dlbook.checkpoint import load_checkpoint, save_checkpoint
from dlbook.models import MLP


class TwoLayer(nn.Module):
    def __init__(self, rng: np.random.Generator) -> None:
        super().__init__()
        self.hidden = nn.Linear(3, 4, rng=rng)
        self.act = nn.Tanh()
        self.out = nn.Linear(4, 2, rng=rng, bias=False)
        self.scale = nn.Parameter(np.ones(2))
        self.note = "not a parameter"

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.act(self.hidden(x))) * self.scale


def test_module_registers_parameters_and_submodules() -> None:
    m = TwoLayer(np.random.default_rng(0))
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "hidden.weight", "hidden.bias", "out.weight"]
    assert m.num_parameters() == 2 + 12 + 4 + 8
    assert [n for n, _ in m.named_modules()] == ["", "hidden", "act", "out"]
    m.hidden = nn.Identity()  # replacing a submodule unregisters its parameters
    assert [n for n, _ in m.named_parameters()] == ["scale", "out.weight"]


def test_shared_parameters_are_counted_once() -> None:
    rng = np.random.default_rng(0)
    layer = nn.Linear(2, 2, rng=rng)
    seq = nn.Sequential(layer, nn.ReLU(), layer)
    assert len(seq.parameters()) == 2 and seq.num_parameters() == 6


def test_module_needs_super_init() -> None:
    class Bad(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(np.ones(1))

    with pytest.raises(RuntimeError, match="must call super"):
        Bad()


def test_zero_grad_train_eval() -> None:
    m = TwoLayer(np.random.default_rng(0))
    m(Tensor(np.ones((5, 3)))).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.eval()
    assert not m.training and not m.hidden.training and not m.act.training
    m.train()
    assert m.training and m.out.training


def test_state_dict_round_trip_and_mismatches() -> None:
    a, b = TwoLayer(np.random.default_rng(0)), TwoLayer(np.random.default_rng(1))
    x = Tensor(np.random.default_rng(2).standard_normal((5, 3)))
    assert not np.allclose(a(x).data, b(x).data)
    state = a.state_dict()
    b.load_state_dict(state)
    np.testing.assert_array_equal(a(x).data, b(x).data)
    state["scale"][:] = 7.0  # the state is a copy, not a view
    assert np.all(a.scale.data == 1.0)
    with pytest.raises(ValueError, match=r"missing keys \['scale'\], unexpected keys \['extra'\]"):
        b.load_state_dict({**{k: v for k, v in state.items() if k != "scale"}, "extra": np.ones(1)})
    bad = dict(state, **{"hidden.weight": np.ones((3, 4))})
    with pytest.raises(ValueError, match=r"hidden.weight has shape \(4, 3\), the state has \(3, 4\)"):
        b.load_state_dict(bad)


def _same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)


def test_load_state_dict_checks_everything_before_changing_anything() -> None:
    """A bad entry late in the state must not leave the earlier parameters already replaced (S1)."""
    model = MLP([3, 5, 4, 2], rng=np.random.default_rng(0))
    before = model.state_dict()
    good = MLP([3, 5, 4, 2], rng=np.random.default_rng(1)).state_dict()
    last = list(good)[-1]
    with pytest.raises(ValueError, match=rf"{last} has shape \(2,\), the state has \(7,\)"):
        model.load_state_dict({**good, last: np.zeros(7)})
    assert _same_state(model.state_dict(), before)
    with pytest.raises(TypeError, match=rf"{last} must hold floating-point numbers, got dtype int8"):
        model.load_state_dict({**good, last: np.zeros(2, dtype=np.int8)})
    assert _same_state(model.state_dict(), before)
    model.load_state_dict(good)
    assert _same_state(model.state_dict(), good)


def test_checkpoint_save_load_gives_the_same_outputs(tmp_path) -> None:
    model = MLP([4, 8, 3], rng=np.random.default_rng(0))
    path = tmp_path / "mlp.npz"
    save_checkpoint(path, model, config={"sizes": [4, 8, 3]}, extra={"mean": np.arange(4.0)})
    with np.load(path, allow_pickle=False) as f:  # loads without pickle
        assert "__config__" in f.files
    state, config, extra = load_checkpoint(path)
    clone = MLP(config["sizes"], rng=np.random.default_rng(99))
    clone.load_state_dict(state)
    x = Tensor(np.random.default_rng(1).standard_normal((6, 4)))
    np.testing.assert_array_equal(model(x).data, clone(x).data)
    np.testing.assert_array_equal(extra["mean"], np.arange(4.0))
    np.savez(tmp_path / "other.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="not a dlbook checkpoint"):
        load_checkpoint(tmp_path / "other.npz")


def test_initialisers_have_the_stated_spread() -> None:
    rng = np.random.default_rng(0)
    w = nn.init.he_normal((400, 300), rng)
    assert w.std() == pytest.approx(math.sqrt(2 / 300), rel=0.02)
    x = nn.init.xavier_uniform((400, 300), rng)
    assert np.abs(x).max() <= math.sqrt(6 / 700) and x.std() == pytest.approx(math.sqrt(2 / 700), rel=0.02)


# ---- optimisers: three steps by hand -------------------------------------------------
W0 = np.array([1.0, -2.0, 0.5])
GRADS = [np.array([0.3, -0.1, 0.2]), np.array([0.1, 0.4, -0.3]), np.array([-0.2, 0.2, 0.05])]


def _run(make: callable) -> list[np.ndarray]:
    p = nn.Parameter(W0.copy())
    opt = make([p])
    seen = []
    for g in GRADS:
        p.grad = g.copy()
        opt.step()
        seen.append(p.data.copy())
    return seen


def test_sgd_matches_the_update_rule() -> None:
    """Verifies (eq-sgd): w ← w − η (∇w + λ w), three steps by hand."""
    lr, wd = 0.1, 0.01
    w, expected = W0.copy(), []
    for g in GRADS:
        w = w - lr * (g + wd * w)
        expected.append(w)
    np.testing.assert_allclose(_run(lambda ps: optim.SGD(ps, lr=lr, weight_decay=wd)), expected, rtol=1e-14)


def test_sgd_momentum_matches_the_update_rule() -> None:
    """Verifies (eq-momentum): v ← μ v + ∇w,  w ← w − η v, three steps by hand."""
    lr, mu = 0.1, 0.9
    v1 = GRADS[0]
    w1 = W0 - lr * v1
    v2 = mu * v1 + GRADS[1]
    w2 = w1 - lr * v2
    v3 = mu * v2 + GRADS[2]
    w3 = w2 - lr * v3
    np.testing.assert_allclose(_run(lambda ps: optim.SGD(ps, lr=lr, momentum=mu)), [w1, w2, w3], rtol=1e-14)


def _adam_by_hand(lr: float, b1: float, b2: float, eps: float, wd: float, decoupled: bool) -> list[np.ndarray]:
    w, m, v, out = W0.copy(), np.zeros(3), np.zeros(3), []
    for t, g in enumerate(GRADS, start=1):
        if wd and not decoupled:
            g = g + wd * w
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        if decoupled:
            w = w - lr * wd * w
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(w)
    return out


def test_adam_matches_the_update_rule() -> None:
    """Verifies (eq-adam): bias-corrected moments, three steps by hand (L2 weight decay as in torch.optim.Adam)."""
    got = _run(lambda ps: optim.Adam(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.1))
    np.testing.assert_allclose(got, _adam_by_hand(0.01, 0.8, 0.95, 1e-3, 0.1, decoupled=False), rtol=1e-12)


def test_adamw_matches_the_update_rule() -> None:
    """Verifies (eq-adam) with decoupled weight decay (AdamW), three steps by hand."""
    got = _run(lambda ps: optim.AdamW(ps, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.5))
    np.testing.assert_allclose(got, _adam_by_hand(0.01, 0.9, 0.999, 1e-8, 0.5, decoupled=True), rtol=1e-12)


def test_optimisers_agree_with_torch() -> None:
    torch = pytest.importorskip("torch")
    for ours, theirs in (
        (lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
         lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01)),
        (lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1), lambda ps: torch.optim.Adam(ps, lr=0.01,
                                                                                            weight_decay=0.1)),
        (lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.5), lambda ps: torch.optim.AdamW(ps, lr=0.01,
                                                                                              weight_decay=0.5)),
    ):
        p = torch.tensor(W0.copy(), requires_grad=True)
        opt = theirs([p])
        ref = []
        for g in GRADS:
            p.grad = torch.tensor(g)
            opt.step()
            ref.append(p.detach().numpy().copy())
        np.testing.assert_allclose(_run(ours), ref, rtol=1e-10)


def test_optimiser_skips_parameters_without_grad_and_zero_grad_clears() -> None:
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    opt = optim.SGD([a, b], lr=0.5)
    a.grad = np.array([1.0, 2.0])
    opt.step()
    np.testing.assert_allclose(a.data, [0.5, 0.0])
    np.testing.assert_allclose(b.data, [1.0, 1.0])
    opt.zero_grad()
    assert a.grad is None


def test_optimiser_state_dict_resumes_exactly() -> None:
    def make(ps: list) -> optim.Adam:
        return optim.Adam(ps, lr=0.01)

    full = _run(make)
    p = nn.Parameter(W0.copy())
    opt = make([p])
    for g in GRADS[:2]:
        p.grad = g.copy()
        opt.step()
    state = opt.state_dict()
    q = nn.Parameter(p.data.copy())
    resumed = make([q])
    resumed.load_state_dict(state)
    q.grad = GRADS[2].copy()
    resumed.step()
    np.testing.assert_allclose(q.data, full[2], rtol=1e-14)


def test_adam_counts_steps_per_parameter_as_pytorch() -> None:
    """A parameter without a gradient on a step is not updated and its t does not advance (torch.optim.Adam).

    ``b`` has gradients on the optimiser's steps 1 and 3 only: its update on step 3 uses the
    bias correction of its own second update, t = 2, not the optimiser's t = 3.
    """
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    for cls in (optim.Adam, optim.AdamW):
        a, b = nn.Parameter(W0.copy()), nn.Parameter(W0.copy())
        opt = cls([a, b], lr=lr, betas=(b1, b2), eps=eps, weight_decay=0.0)
        for step, g in enumerate(GRADS):
            a.grad, b.grad = g.copy(), (g.copy() if step != 1 else None)
            opt.step()
        np.testing.assert_allclose(a.data, _adam_by_hand(lr, b1, b2, eps, 0.0, decoupled=False)[-1], rtol=1e-12)
        w, m, v = W0.copy(), np.zeros(3), np.zeros(3)
        for t, g in enumerate((GRADS[0], GRADS[2]), start=1):
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(b.data, w, rtol=1e-12)
        assert opt.step_count == 3 and opt.param_steps == [3, 2]


def test_adam_state_dict_keeps_per_parameter_counts_and_reads_old_states() -> None:
    a, b = nn.Parameter(W0.copy()), nn.Parameter(W0.copy())
    opt = optim.AdamW([a, b], lr=0.01)
    a.grad = GRADS[0].copy()
    opt.step()
    state = opt.state_dict()
    assert int(state["step.0"]) == 1 and int(state["step.1"]) == 0
    fresh = optim.AdamW([nn.Parameter(W0.copy()), nn.Parameter(W0.copy())], lr=0.01)
    fresh.load_state_dict(state)
    assert fresh.param_steps == [1, 0] and fresh.step_count == 1
    # a state saved before per-parameter counts existed: the one count applies to every parameter
    old = {k: v for k, v in state.items() if not k.startswith("step.")}
    fresh.load_state_dict(old)
    assert fresh.param_steps == [1, 1]


def test_optimiser_load_state_dict_checks_everything_before_changing_anything() -> None:
    """Missing keys, wrong shapes and non-float buffers are refused by name, and the optimiser is unchanged (S1)."""
    p = nn.Parameter(W0.copy())
    opt = optim.Adam([p], lr=0.01)
    p.grad = GRADS[0].copy()
    opt.step()
    before = opt.state_dict()
    source = optim.Adam([nn.Parameter(W0.copy())], lr=0.01)
    for g in GRADS:
        source.params[0].grad = g.copy()
        source.step()
    good = source.state_dict()
    bad_states = [
        (ValueError, r"Adam.load_state_dict: missing keys \['v.0'\]", {k: v for k, v in good.items() if k != "v.0"}),
        (ValueError, r"unexpected keys \['m.1'\]", {**good, "m.1": np.zeros(3)}),
        (ValueError, r"m.0 has shape \(4,\), but params\[0\] has shape \(3,\)", {**good, "m.0": np.zeros(4)}),
        (TypeError, r"v.0 must hold floating-point numbers, got dtype int64", {**good, "v.0": np.zeros(3, int)}),
        (TypeError, r"step_count must be an integer scalar", {**good, "step_count": np.asarray(2.5)}),
        (ValueError, r"step.0 must be >= 0, got -1", {**good, "step.0": np.asarray(-1)}),
    ]
    for error, message, state in bad_states:
        with pytest.raises(error, match=message):
            opt.load_state_dict(state)
        assert _same_state(opt.state_dict(), before), message
    sgd = optim.SGD([nn.Parameter(W0.copy())], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"SGD.load_state_dict: missing keys \['velocity.0'\]"):
        sgd.load_state_dict({"step_count": np.asarray(3)})
    with pytest.raises(ValueError, match=r"velocity.0 has shape \(2,\)"):
        sgd.load_state_dict({"step_count": np.asarray(3), "velocity.0": np.ones(2)})
    assert sgd.step_count == 0 and np.all(sgd.velocity[0] == 0)
    opt.load_state_dict(good)
    assert _same_state(opt.state_dict(), good)


def test_optimiser_params_must_be_an_iterable_of_distinct_parameters() -> None:
    """``SGD(model.parameters)`` (the method) and a parameter given twice are refused by name (S6)."""
    model = MLP([2, 3, 1], rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"params must be an iterable of Parameters \(call it: model.parameters\(\)\), "
                                        r"got method"):
        optim.SGD(model.parameters, lr=0.1)
    with pytest.raises(TypeError, match=r"params must be an iterable of Parameters, got Parameter"):
        optim.Adam(model.parameters()[0], lr=0.1)
    p = nn.Parameter(np.zeros(1))
    with pytest.raises(ValueError, match=r"params\[2\] is the same Parameter as params\[0\]"):
        optim.SGD([p, nn.Parameter(np.zeros(1)), p], lr=0.1)


def test_float32_parameters_stay_float32() -> None:
    p = nn.Parameter(np.ones(3, dtype=np.float32))
    for opt in (optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1), optim.AdamW([p], lr=0.1)):
        p.grad = np.ones(3, dtype=np.float32)
        opt.step()
        assert p.dtype == np.float32


# ---- schedules and clipping ------------------------------------------------------------
def test_warmup_cosine_values() -> None:
    """Verifies (eq-warmup-cosine): linear warmup, then half a cosine from max_lr to min_lr."""
    total, warm, hi, lo = 110, 10, 1.0, 0.1
    lrs = [optim.warmup_cosine(s, total, warm, hi, lo) for s in range(total + 1)]
    np.testing.assert_allclose(lrs[:warm], [(s + 1) / 10 for s in range(warm)])
    assert lrs[warm] == pytest.approx(hi)
    assert lrs[warm + 50] == pytest.approx(lo + 0.5 * (hi - lo))  # half-way: cos(π/2) = 0
    assert lrs[warm + 25] == pytest.approx(lo + 0.5 * (hi - lo) * (1 + math.cos(math.pi / 4)))
    assert lrs[total] == pytest.approx(lo)
    assert np.all(np.diff(lrs[warm:]) <= 1e-15)


def test_warmup_cosine_scheduler_sets_the_optimiser_lr() -> None:
    p = nn.Parameter(np.ones(1))
    opt = optim.SGD([p], lr=0.5)
    sched = optim.WarmupCosine(opt, total_steps=20, warmup_steps=4)
    assert opt.lr == pytest.approx(0.5 / 4)
    seen = [sched.step() for _ in range(20)]
    assert seen[2] == pytest.approx(0.5) and seen[-1] == pytest.approx(0.0)
    assert opt.lr == seen[-1]


def test_clip_grad_norm() -> None:
    a, b, c = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(1)), nn.Parameter(np.zeros(1))
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([4.0])
    total = optim.clip_grad_norm([a, b, c], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(np.concatenate([a.grad, b.grad]), [0.6, 0.0, 0.8], rtol=1e-5)
    before = a.grad.copy()
    assert optim.clip_grad_norm([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_array_equal(a.grad, before)  # under the limit: untouched


def test_schedule_refuses_negative_or_inverted_rates() -> None:
    """min_lr < 0 would end in gradient ascent, min_lr > max_lr in a rising "decay" (S5)."""
    p = nn.Parameter(np.ones(1))
    with pytest.raises(ValueError, match=r"min_lr must be a finite number >= 0, got -1"):
        optim.WarmupCosine(optim.SGD([p], lr=0.1), 10, 0, min_lr=-1)
    with pytest.raises(ValueError, match=r"min_lr must be at most max_lr .*, got min_lr=0.5 > max_lr=0.1"):
        optim.WarmupCosine(optim.SGD([p], lr=0.1), 10, 0, min_lr=0.5)
    with pytest.raises(ValueError, match=r"max_lr must be a finite number >= 0, got nan"):
        optim.warmup_cosine(3, 10, 2, float("nan"))
    sched = optim.WarmupCosine(optim.SGD([p], lr=0.1), 10, 0, min_lr=0.1)  # constant: allowed
    assert [sched.step() for _ in range(10)] == pytest.approx([0.1] * 10)


def test_clip_grad_norm_never_turns_inf_into_nan_silently() -> None:
    """A non-finite norm raises FloatingPointError before any gradient changes; overflowing squares still clip (S4)."""
    a, b = nn.Parameter(np.zeros(3)), nn.Parameter(np.zeros(1))
    for bad in (np.inf, np.nan):
        a.grad, b.grad = np.array([bad, 1.0, 1.0]), np.array([1.0])
        with pytest.raises(FloatingPointError, match=rf"gradient norm is {bad} \(not finite\)"):
            optim.clip_grad_norm([a, b], max_norm=1.0)
        np.testing.assert_array_equal(a.grad, [bad, 1.0, 1.0])  # untouched
    # PyTorch's behaviour on request: inf · 0 = NaN
    a.grad = np.array([np.inf, 1.0, 1.0])
    with np.errstate(invalid="ignore"):
        assert optim.clip_grad_norm([a, b], 1.0, error_if_nonfinite=False) == np.inf
    assert np.isnan(a.grad[0]) and np.all(a.grad[1:] == 0)
    # float32 gradients of 1e20: finite, but their squares overflow float32
    c = nn.Parameter(np.zeros(2, dtype=np.float32))
    c.grad = np.array([3e20, 4e20], dtype=np.float32)
    assert optim.clip_grad_norm([c], max_norm=1.0) == pytest.approx(5e20, rel=1e-6)
    assert c.grad.dtype == np.float32
    np.testing.assert_allclose(c.grad, [0.6, 0.8], rtol=1e-6)


def test_training_a_linear_model_reduces_the_loss() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    layer = nn.Linear(3, 1, rng=rng)
    opt = optim.SGD(layer.parameters(), lr=0.1, momentum=0.5)
    for _ in range(100):
        loss = F.mse_loss(layer(Tensor(X)), y[:, None])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-6
    np.testing.assert_allclose(layer.weight.data[0], [1.0, -2.0, 0.5], atol=1e-3)
