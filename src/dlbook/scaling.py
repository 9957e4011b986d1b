"""Compute-optimal model size (§8): the fits of Hoffmann et al. (2022, "Chinchilla") to an IsoFLOP study.

The study (:mod:`dlbook.recipes.isoflop`, shipped as ``assets/isoflop.json``) trains several model sizes N at
each compute budget C, with D = C / (6·N) tokens each.  Two of Chinchilla's three approaches read it:

*Approach 2, IsoFLOP profiles.*  At one budget the final loss against ln N is close to a parabola
(:func:`parabola_minimum`); its vertex is that budget's compute-optimal size N_opt(C), and D_opt = C / (6·N_opt).
Across budgets, straight lines in log–log coordinates give N_opt ∝ C^a and D_opt ∝ C^b (:func:`power_law`,
eq-optimal-allocation), with intervals from a residual bootstrap (:func:`bootstrap_exponents`).

*Approach 3, a parametric law.*  Every run at once is fitted by

    L(N, D) = E + A / N^α + B / D^β                                      (eq-chinchilla-law)

with a Huber loss on the logarithm of the loss (:func:`fit_parametric`); minimising it at fixed C = 6·N·D gives
the frontier N_opt(C) = G·(C/6)^(β/(α+β)), G = (αA / (βB))^(1/(α+β)) (:func:`compute_optimal`).

The corpus is small, so large budgets repeat it; :func:`effective_tokens` is Muennighoff et al.'s (2023) value of
repeated tokens in unique ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ASSET = Path(__file__).parent / "assets" / "isoflop.json"
#: Muennighoff et al. (2023): R*, the number of repetitions after which repeated data is worth 1/e of new data.
MUENNIGHOFF_R_STAR = 15.4


def load_study(path: str | Path = ASSET) -> dict[str, Any]:
    """The shipped (or given) IsoFLOP results file: ``recipe``, ``unigram_val_loss``, ``runs`` by key."""
    study = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(study, dict) or "runs" not in study or "recipe" not in study:
        raise ValueError(f"{path} is not an IsoFLOP results file")
    return study


def study_arrays(study: dict[str, Any]) -> dict[str, np.ndarray]:
    """The runs as arrays sorted by budget then size: budget C, N (FLOPs per token / 6), D, loss, epochs, level."""
    rows = sorted(study["runs"].values(), key=lambda r: (r["budget"], r["level"]))
    return dict(budget=np.array([r["budget"] for r in rows]), n=np.array([r["flops_per_token"] / 6 for r in rows]),
                d=np.array([float(r["tokens"]) for r in rows]), loss=np.array([r["val_loss"] for r in rows]),
                epochs=np.array([r["epochs"] for r in rows]), level=np.array([r["level"] for r in rows]))


def _vector(name: str, x: Any) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}")
    if not np.isfinite(a).all() or (a <= 0).any():
        raise ValueError(f"{name} must be finite and positive")
    return a


def parabola_fit(n: Any, loss: Any) -> np.ndarray:
    """(p₂, p₁, p₀): the least-squares parabola L ≈ p₂·(ln N)² + p₁·ln N + p₀ through ≥ 3 sizes, highest power
    first as ``np.polyval`` reads it.  ``n``, ``loss``: (K,) with K ≥ 3 distinct sizes."""
    n, loss = _vector("n", n), _vector("loss", loss)
    if n.shape != loss.shape or len(np.unique(n)) < 3:
        raise ValueError(f"n and loss must have the same length and >= 3 distinct sizes, got {n.shape}, {loss.shape}")
    return np.polyfit(np.log(n), loss, 2)


def parabola_minimum(n: Any, loss: Any) -> tuple[float, float]:
    """(N_opt, L_min): the vertex of :func:`parabola_fit`'s parabola, N_opt = exp(−p₁/(2p₂)).

    ``n``, ``loss``: (K,) with K ≥ 3 distinct sizes.  ValueError if the parabola opens downwards (no minimum).
    Implements (eq-isoflop-parabola)."""
    p2, p1, p0 = parabola_fit(n, loss)
    if p2 <= 0:
        raise ValueError("the points curve downwards: the parabola has no minimum")
    x = -p1 / (2 * p2)
    return float(np.exp(x)), float(p0 - p1 * p1 / (4 * p2))


def isoflop_optima(arrays: dict[str, np.ndarray]) -> list[dict[str, float]]:
    """Per budget (ascending): C, N_opt and L_min of :func:`parabola_minimum`, D_opt = C/(6·N_opt), and whether
    N_opt lies inside the sizes trained (an optimum outside them is an extrapolation)."""
    out = []
    for c in np.unique(arrays["budget"]):
        at = arrays["budget"] == c
        n_opt, l_min = parabola_minimum(arrays["n"][at], arrays["loss"][at])
        out.append(dict(budget=float(c), n_opt=n_opt, d_opt=float(c / (6 * n_opt)), loss=l_min,
                        inside=bool(arrays["n"][at].min() <= n_opt <= arrays["n"][at].max())))
    return out


def power_law(c: Any, y: Any) -> tuple[float, float]:
    """(exponent, k) of y ≈ k·C^exponent, least squares in log–log coordinates.  Implements (eq-optimal-allocation)."""
    c, y = _vector("c", c), _vector("y", y)
    if c.shape != y.shape or len(c) < 2:
        raise ValueError(f"c and y must have the same length >= 2, got {c.shape} and {y.shape}")
    slope, intercept = np.polyfit(np.log(c), np.log(y), 1)
    return float(slope), float(np.exp(intercept))


def bootstrap_exponents(arrays: dict[str, np.ndarray], n_boot: int = 2000, seed: int = 0,
                        level: float = 0.9) -> dict[str, tuple[float, float]]:
    """Intervals for a (N_opt ∝ C^a) and b (D_opt ∝ C^b) by a residual bootstrap.

    The sizes are fixed by design, so each refit keeps them and redraws only the losses: each budget's fitted
    parabola plus that budget's residuals resampled with replacement (resampling whole runs instead would often
    leave only three distinct sizes of five, and a parabola through three points swings wildly).  Refits whose
    parabola has no minimum are drawn again.  Returns {"a": (lo, hi), "b": (lo, hi)}, the central ``level``
    interval of ``n_boot`` refits."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    budgets = np.unique(arrays["budget"])
    fits = []
    for c in budgets:
        at = arrays["budget"] == c
        n, loss = arrays["n"][at], arrays["loss"][at]
        fitted = np.polyval(parabola_fit(n, loss), np.log(n))
        fits.append((n, fitted, loss - fitted))
    a_values, b_values = [], []
    while len(a_values) < n_boot:
        n_opt = []
        for n, fitted, resid in fits:
            try:
                n_opt.append(parabola_minimum(n, fitted + rng.choice(resid, size=len(resid)))[0])
            except ValueError:
                break
        if len(n_opt) < len(budgets):
            continue
        n_opt_arr = np.array(n_opt)
        a_values.append(power_law(budgets, n_opt_arr)[0])
        b_values.append(power_law(budgets, budgets / (6 * n_opt_arr))[0])
    q = [(1 - level) / 2, (1 + level) / 2]
    return {"a": tuple(float(v) for v in np.quantile(a_values, q)),      # type: ignore[dict-item]
            "b": tuple(float(v) for v in np.quantile(b_values, q))}


@dataclass(frozen=True)
class ParametricLaw:
    """L(N, D) = E + A/N^α + B/D^β (eq-chinchilla-law), and the Huber objective it reached."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    objective: float

    def loss(self, n: Any, d: Any) -> np.ndarray:
        """The predicted loss at N parameters and D tokens (arrays broadcast)."""
        n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
        return self.E + self.A / n ** self.alpha + self.B / d ** self.beta


def _huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Huber loss of residuals r and its derivative."""
    small = np.abs(r) <= delta
    return (np.where(small, 0.5 * r * r, delta * (np.abs(r) - 0.5 * delta)),
            np.where(small, r, delta * np.sign(r)))


def _law_objective(theta: np.ndarray, x: np.ndarray, w: np.ndarray, y: np.ndarray, delta: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Σ Huber_δ(LSE(a − α·x, b − β·w, e) − y) and its gradient, for each row (a, α, b, β, e) of theta (S, 5)."""
    z = np.stack([theta[:, :1] - theta[:, 1:2] * x, theta[:, 2:3] - theta[:, 3:4] * w,
                  np.broadcast_to(theta[:, 4:5], (len(theta), len(x)))], axis=-1)      # (S, K, 3)
    top = z.max(axis=-1, keepdims=True)
    s = np.exp(z - top)
    lse = top[..., 0] + np.log(s.sum(axis=-1))
    s /= s.sum(axis=-1, keepdims=True)                                                 # softmax = ∂LSE/∂z
    h, dh = _huber(lse - y, delta)
    grad = np.stack([dh * s[..., 0], -dh * s[..., 0] * x, dh * s[..., 1], -dh * s[..., 1] * w, dh * s[..., 2]],
                    axis=-1).sum(axis=1)
    return h.sum(axis=1), grad


def _starts(n: np.ndarray, d: np.ndarray, loss: np.ndarray, count: int) -> np.ndarray:
    """Starting points (S, 5) for the Huber fit: on a grid of (α, β), E, A and B solve a least-squares problem
    (the law is linear in them); the ``count`` grid points whose positive solutions fit best."""
    exps = np.linspace(0.05, 1.5, 30)
    alpha, beta = (g.ravel() for g in np.meshgrid(exps, exps, indexing="ij"))
    X = np.stack([np.ones((len(alpha), len(n))), n[None] ** -alpha[:, None], d[None] ** -beta[:, None]], -1)
    XtX = np.einsum("gki,gkj->gij", X, X) + 1e-12 * np.eye(3)
    coef = np.linalg.solve(XtX, np.einsum("gki,k->gi", X, loss)[..., None])[..., 0]    # (G, 3): E, A, B
    ok = (coef > 0).all(axis=1)
    if not ok.any():
        coef, ok = np.maximum(coef, 1e-3), np.ones(len(coef), bool)
    err = np.where(ok, ((np.einsum("gki,gi->gk", X, coef) - loss) ** 2).sum(axis=1), np.inf)
    best = np.argsort(err)[:count]
    e, a, b = np.log(np.maximum(coef[best], 1e-6)).T
    return np.stack([a, alpha[best], b, beta[best], e], axis=1)


def fit_parametric(n: Any, d: Any, loss: Any, delta: float = 1e-3, steps: int = 3000,
                   starts: int = 24) -> ParametricLaw:
    """Fit (eq-chinchilla-law) to runs of N parameters, D tokens and final loss L, as Hoffmann et al. do.

    With A = e^a, B = e^b, E = e^e the law's logarithm is LSE(a − α ln N, b − β ln D, e); the objective is
    Σ Huber_δ(LSE(…) − ln L).  It is minimised by Adam from ``starts`` starting points at once (the best
    least-squares fits on a grid of exponents, :func:`_starts`) with a cosine-decaying step, and the best end
    point kept.
    ``n``, ``d``, ``loss``: (K,) with K ≥ 5.  Implements (eq-chinchilla-law).
    """
    n, d, loss = _vector("n", n), _vector("d", d), _vector("loss", loss)
    if not n.shape == d.shape == loss.shape or len(n) < 5:
        raise ValueError(f"n, d and loss must have the same length >= 5, got {n.shape}, {d.shape}, {loss.shape}")
    x, w, y = np.log(n), np.log(d), np.log(loss)
    theta = _starts(n, d, loss, starts)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    b1, b2 = 0.9, 0.999
    for step in range(1, steps + 1):
        lr = 1e-4 + 0.5 * (0.03 - 1e-4) * (1 + np.cos(np.pi * step / steps))   # a cosine, to settle at the end
        _, g = _law_objective(theta, x, w, y, delta)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr * (m / (1 - b1 ** step)) / (np.sqrt(v / (1 - b2 ** step)) + 1e-12)
        theta[:, [1, 3]] = np.clip(theta[:, [1, 3]], 1e-3, 5.0)      # exponents stay positive
    values, _ = _law_objective(theta, x, w, y, delta)
    a, alpha, b, beta, e = theta[int(np.argmin(values))]
    return ParametricLaw(E=float(np.exp(e)), A=float(np.exp(a)), B=float(np.exp(b)), alpha=float(alpha),
                         beta=float(beta), objective=float(values.min()))


def compute_optimal(law: ParametricLaw, c: Any) -> tuple[np.ndarray, np.ndarray]:
    """(N_opt, D_opt) minimising ``law`` at C = 6·N·D: N_opt = G·(C/6)^(β/(α+β)), G = (αA/(βB))^(1/(α+β)).

    Implements (eq-compute-optimal)."""
    c = np.asarray(c, dtype=float)
    if not np.isfinite(c).all() or (c <= 0).any():
        raise ValueError("c must be finite and positive")
    s = law.alpha + law.beta
    g = (law.alpha * law.A / (law.beta * law.B)) ** (1 / s)
    n_opt = g * (c / 6) ** (law.beta / s)
    return n_opt, c / (6 * n_opt)


def effective_tokens(tokens: Any, unique: float, r_star: float = MUENNIGHOFF_R_STAR) -> np.ndarray:
    """Muennighoff et al.'s value of D tokens drawn from U unique ones, in unique tokens:
    D' = U + U·R*·(1 − exp(−R/R*)) with R = D/U − 1 repetitions beyond the first epoch (D' = D for D ≤ U).

    Implements (eq-effective-data)."""
    d = np.asarray(tokens, dtype=float)
    if unique <= 0 or r_star <= 0:
        raise ValueError(f"unique and r_star must be positive, got {unique} and {r_star}")
    r = np.maximum(d / unique - 1, 0)
    return np.where(d <= unique, d, unique + unique * r_star * (1 - np.exp(-r / r_star)))
