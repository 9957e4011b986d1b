"""Chapter 5.5, a modern block: each formula of the chapter against a loop or closed form written here, the
ablation's switches (with the GPT's switches the Llama class is the GPT), the ablation script on a tiny setting,
the shipped results (complete, of this recipe), and the RoPE explorer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from dlbook import functional as F
from dlbook import nn
from dlbook.autograd import Tensor
from dlbook.models import GPT, GPTConfig, Llama, LlamaConfig
from dlbook.recipes import modern_block as mb
from dlbook.recipes.news_lm import load_news_data

# ---- the chapter's equations, verified against loops -------------------------------------------------------


def test_rms_norm_is_its_formula() -> None:
    """Verifies (eq-rmsnorm): y_i = x_i / √((1/d) Σ_j x_j² + ε) · γ_i, vector by vector in a loop."""
    rng = np.random.default_rng(0)
    x, w, eps = rng.standard_normal((3, 4, 6)), rng.standard_normal(6), 0.1
    got = F.rms_norm(Tensor(x), Tensor(w), eps).data
    for idx in np.ndindex(x.shape[:-1]):
        v = x[idx]
        rms = math.sqrt(sum(t * t for t in v) / len(v) + eps)
        assert np.allclose(got[idx], [v[i] / rms * w[i] for i in range(len(v))], rtol=1e-12)


def test_silu_and_swiglu_are_their_formulas() -> None:
    """Verifies (eq-silu): SiLU(z) = z / (1 + e^(−z)) on a grid, and (eq-swiglu): W₂(SiLU(W₁x) ⊙ W₃x) written out
    with the module's own weights (and its biases, when it has them)."""
    z = np.linspace(-8, 8, 41)
    assert np.allclose(F.silu(Tensor(z)).data, [t / (1 + math.exp(-t)) for t in z], rtol=1e-12)
    rng = np.random.default_rng(1)
    for bias in (False, True):
        ffn = nn.SwiGLU(5, 7, bias=bias, rng=rng)
        x = rng.standard_normal((2, 3, 5))

        def lin(layer: nn.Linear, a: np.ndarray) -> np.ndarray:
            return a @ layer.weight.data.T + (layer.bias.data if layer.bias is not None else 0)

        gate = lin(ffn.w1, x)
        expected = lin(ffn.w2, gate / (1 + np.exp(-gate)) * lin(ffn.w3, x))
        assert np.allclose(ffn(Tensor(x)).data, expected, rtol=1e-12)


def test_rope_is_a_rotation_of_each_pair() -> None:
    """Verifies (eq-rope): pair (x_i, x_{i+d/2}) at position m is multiplied by the 2×2 rotation matrix of angle
    m·base^(−2i/d), written out here; and the score of rotated q, k depends on m − n only."""
    rng = np.random.default_rng(2)
    t, d, base = 7, 8, 100.0
    x = rng.standard_normal((t, d))
    got = F.rope(Tensor(x), 0, base).data
    for m in range(t):
        for i in range(d // 2):
            a = m * base ** (-2 * i / d)
            rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
            assert np.allclose(got[m, [i, i + d // 2]], rot @ x[m, [i, i + d // 2]], rtol=1e-12)
    q, k = rng.standard_normal(d), rng.standard_normal(d)
    qs = F.rope(Tensor(np.tile(q, (20, 1))), 0).data
    ks = F.rope(Tensor(np.tile(k, (20, 1))), 0).data
    scores = qs @ ks.T                                     # scores[m, n] = RoPE(q, m)·RoPE(k, n)
    for offset in range(-5, 6):
        diag = np.diagonal(scores, offset)
        assert np.allclose(diag, diag[0], rtol=1e-10)


def test_grouped_query_attention_is_its_formula() -> None:
    """Verifies (eq-gqa): query head h attends with key/value head ⌊h/g⌋, g = H / H_kv, causally, in scalar loops."""
    rng = np.random.default_rng(3)
    n, h, hkv, t, d = 2, 6, 2, 5, 4
    q = rng.standard_normal((n, h, t, d))
    k, v = rng.standard_normal((n, hkv, t, d)), rng.standard_normal((n, hkv, t, d))
    got = F.grouped_query_attention(Tensor(q), Tensor(k), Tensor(v)).data
    g = h // hkv
    for b in range(n):
        for head in range(h):
            j = head // g
            for i in range(t):
                s = np.array([q[b, head, i] @ k[b, j, s_] / math.sqrt(d) for s_ in range(i + 1)])
                p = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
                assert np.allclose(got[b, head, i], sum(p[s_] * v[b, j, s_] for s_ in range(i + 1)), rtol=1e-10)


# ---- the ablation's switches ---------------------------------------------------------------------------------

def _gpt_weights_into(gpt: GPT, model: Llama) -> None:
    """Copy a GPT's weights into a Llama with the GPT's switches (the fused in_proj split into q, k, v)."""
    e = gpt.config.d_model
    state = {"tok_emb.weight": gpt.tok_emb.weight.data, "pos_emb.weight": gpt.pos_emb.weight.data,
             "norm.weight": gpt.ln_f.weight.data, "norm.bias": gpt.ln_f.bias.data}
    for i, block in enumerate(gpt.blocks):
        p = f"blocks.{i}."
        w, b = block.self_attn.in_proj.weight.data, block.self_attn.in_proj.bias.data
        for j, name in enumerate(("q_proj", "k_proj", "v_proj")):
            rows = slice(j * e, (j + 1) * e)
            state[p + f"attn.{name}.weight"], state[p + f"attn.{name}.bias"] = w[rows], b[rows]
        pairs = {"attn.o_proj": block.self_attn.out_proj, "ffn.0": block.linear1, "ffn.2": block.linear2,
                 "attn_norm": block.norm1, "ffn_norm": block.norm2}
        for name, layer in pairs.items():
            state[p + name + ".weight"], state[p + name + ".bias"] = layer.weight.data, layer.bias.data
    assert set(state) == set(model.state_dict())
    model.load_state_dict(state)


def test_the_gpt_switches_make_the_llama_class_the_gpt() -> None:
    """With LayerNorm, learned positions, GELU, biases and n_kv_heads = nhead, the Llama class computes the GPT of
    Part IV: the same parameter count and, with the GPT's weights, the same logits."""
    gc = GPTConfig(vocab_size=23, context=12, d_model=16, num_layers=2, nhead=4, dim_feedforward=40)
    gpt = GPT(gc, rng=np.random.default_rng(0), dtype=np.float64)
    model = Llama(mb.variant_config("gpt", 23, hidden=40, shape=dict(context=12, d_model=16, num_layers=2,
                                                                      nhead=4)),
                  rng=np.random.default_rng(1), dtype=np.float64)
    assert model.num_parameters() == gpt.num_parameters()
    _gpt_weights_into(gpt, model)
    ids = np.random.default_rng(2).integers(0, 23, (3, 12))
    assert np.allclose(model(ids).data, gpt(ids).data, rtol=1e-10, atol=1e-12)


def test_each_variant_changes_only_its_switches_at_the_gpts_compute() -> None:
    base = mb.variant_config("gpt", 3399)
    target = mb.compute_parameters(base)
    switches = ("norm", "positions", "ffn", "bias", "n_kv_heads")
    for name, change in mb.VARIANTS.items():
        c = mb.variant_config(name, 3399)
        differs = {s for s in switches if getattr(c, s) != getattr(base, s)}
        assert differs == set(change), name
        assert abs(mb.compute_parameters(c) - target) / target < 0.002, name     # equal FLOPs at equal tokens
    assert mb.variant_config("llama", 3399).n_kv_heads == 2
    with pytest.raises(ValueError, match="name"):
        mb.variant_config("mamba", 10)
    with pytest.raises(ValueError, match="norm"):
        LlamaConfig(vocab_size=5, norm="batch")
    with pytest.raises(TypeError, match="bias"):
        LlamaConfig(vocab_size=5, bias=1)


def test_the_plan_and_its_shards() -> None:
    runs = mb.plan(0, (1,))
    assert runs[:6] == [(v, 0) for v in mb.VARIANTS] and runs[6:] == [("gpt", 1), ("llama", 1)]
    halves = mb.shard(runs, 0, 2) + mb.shard(runs, 1, 2)
    assert sorted(halves) == sorted(runs) and len(mb.shard(runs, 0, 2)) == 4
    with pytest.raises(ValueError, match="shard"):
        mb.shard(runs, 2, 2)


# ---- the script on a tiny setting ----------------------------------------------------------------------------
TINY_SHAPE = dict(context=32, d_model=32, num_layers=1, nhead=4, gpt_hidden=64)


def test_a_tiny_llama_run_learns() -> None:
    data = load_news_data(5, "news")
    row = mb.train_variant("llama", 0, data, dict(steps=60, eval_every=20, eval_windows=8, lr=3e-3,
                                                  test_chars=3000), TINY_SHAPE)
    assert row["val_step"] == [20, 40, 60]
    assert row["val_loss"][-1] < row["val_loss"][0] - 0.3
    assert np.mean(row["loss"][-10:]) < np.mean(row["loss"][:10]) - 1.0
    assert row["test_loss"] < math.log(data.tokenizer.vocab_size) - 1.0
    assert row["tokens"] == 60 * 16 * 32 and row["flops"] == 6 * row["compute_parameters"] * row["tokens"]


def test_the_script_stores_each_run_and_resumes(tmp_path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "ablation.json"
    recipe = dict(steps=2, eval_every=1, eval_windows=1, test_chars=200)
    mb.main(["--out", str(out), "--repeat-seeds", "1", "--shard", "1/2", "--set",
             *[f"{k}={json.dumps(v)}" for k, v in recipe.items()],
             "--shape", *[f"{k}={v}" for k, v in TINY_SHAPE.items()]])
    stored = json.loads(out.read_text(encoding="utf-8"))
    assert set(stored["runs"]) == {mb.run_key(*r) for r in mb.shard(mb.plan(0, (1,)), 1, 2)}
    results = mb.run_ablation(out, 0, (1,), recipe, TINY_SHAPE)
    assert set(results["runs"]) == {mb.run_key(*r) for r in mb.plan(0, (1,))}
    assert "4 already in" in capsys.readouterr().out
    with pytest.raises(ValueError, match="recipe"):
        mb.run_ablation(out, 0, (1,), {**recipe, "lr": 1e-3}, TINY_SHAPE)
    with pytest.raises(ValueError, match="unknown recipe"):
        mb.run_ablation(out, 0, (1,), {"learning_rate": 1e-3}, TINY_SHAPE)


# ---- the shipped results -------------------------------------------------------------------------------------
#: Planned runs the shipped file lacks (none: a run added to the plan must be made and shipped).
NOT_RUN: set[str] = set()


def test_the_shipped_ablation_is_of_this_recipe_and_names_what_it_lacks() -> None:
    results = json.loads(mb.ASSET.read_text(encoding="utf-8"))
    assert results["recipe"] == mb.RECIPE and results["shape"] == mb.SHAPE and results["variants"] == mb.VARIANTS
    planned = {mb.run_key(*r) for r in mb.plan(results["seed"], results["repeat_seeds"])}
    assert set(results["runs"]) == planned - NOT_RUN
    assert {mb.run_key(v, results["seed"]) for v in mb.MAIN} <= set(results["runs"])
    r = mb.RECIPE
    gpt = results["runs"][mb.run_key("gpt", results["seed"])]
    test_text = load_news_data(r["min_freq"], r["vocab"]).test
    for key, row in results["runs"].items():
        assert key == mb.run_key(row["variant"], row["seed"])
        assert row["config"] == mb.variant_config(row["variant"], results["vocab_size"]).to_dict(), key
        assert row["tokens"] == r["steps"] * r["batch_size"] * mb.SHAPE["context"]
        assert abs(row["flops"] / gpt["flops"] - 1) < 0.002, key
        assert len(row["loss"]) == r["steps"]
        assert row["val_step"] == list(range(r["eval_every"], r["steps"] + 1, r["eval_every"]))
        assert 0 < row["test_loss"] < math.log(results["vocab_size"]), key
        assert row["test_chars"] == min(r["test_chars"] or len(test_text), len(test_text))


# ---- the RoPE explorer ---------------------------------------------------------------------------------------

def test_rope_explorer_score_depends_on_the_offset_only() -> None:
    from dlbook.widgets.rope import compute_rope_pair, make_rope_explorer

    a, b = compute_rope_pair(2, 6), compute_rope_pair(10, 14)
    assert math.isclose(a["score"], b["score"], rel_tol=1e-10)
    assert not math.isclose(a["score"], compute_rope_pair(2, 7)["score"], rel_tol=1e-3)
    assert np.allclose(a["q_pair"], b["q_pair"]) and not np.allclose(a["q_rot"], b["q_rot"])
    assert np.isclose(np.linalg.norm(a["q_rot"]), np.linalg.norm(a["q_pair"]))          # a rotation keeps length
    i = list(a["offsets"]).index(4)
    assert math.isclose(a["scores"][i], a["score"], rel_tol=1e-10)
    explorer = make_rope_explorer("static")
    assert len(explorer.frames) == 25
    assert explorer.select(m=4, n=8) != explorer.select(m=4, n=12)
