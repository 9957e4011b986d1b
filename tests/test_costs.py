"""Training compute and memory (§1): formulas by hand, published figures, the calculator widget, bad input."""

from __future__ import annotations

import pytest

from dlbook.costs import LANDMARKS, SHAPES, compare_methods, human, lora_parameters, training_flops, training_memory


def test_training_flops_is_six_n_d() -> None:
    """Verifies (eq-training-flops): C = 6 N D; GPT-3 (175 G parameters, 300 G tokens) gives 3.15e23, the
    3.14e23 its paper reports (Brown et al. 2020, Table D.1) to within 1 %."""
    assert training_flops(2.0, 3.0) == 36.0
    assert training_flops(175e9, 300e9) == pytest.approx(3.14e23, rel=0.01)
    assert training_flops(10, 10, passes=4) == 400.0


def test_training_memory_by_hand() -> None:
    """Verifies (eq-training-memory): M = 2 N + (2 + 12) N_train bytes; 16 bytes per parameter when all train
    (the ZeRO paper's 16Ψ), 2 bytes per parameter when all are frozen."""
    m = training_memory(1000, 1000)
    assert m == {"weights": 2000.0, "gradients": 2000.0, "optimizer": 12000.0, "total": 16000.0}
    assert training_memory(1000, 0)["total"] == 2000.0
    m = training_memory(100, 10, weight_bytes=4, grad_bytes=4, optimizer_bytes=8)
    assert (m["weights"], m["gradients"], m["optimizer"]) == (400.0, 40.0, 80.0)


def test_lora_count_matches_the_lora_paper() -> None:
    """GPT-3 175B with LoRA on W_q and W_v: 4.7 M parameters at r = 1 and 37.7 M at r = 8 (Hu et al. 2021)."""
    assert lora_parameters(96, 12288, 1) == 4_718_592
    assert lora_parameters(96, 12288, 8) == 37_748_736
    assert lora_parameters(2, 4, 1, matrices=1) == 2 * (4 + 4)


def test_compare_methods() -> None:
    r = compare_methods("LLaMA 7B", rank=8, finetune_tokens=1e8)
    n = SHAPES["LLaMA 7B"].n_params
    assert r["pretraining"]["total"] == r["full fine-tuning"]["total"] == 16 * n
    assert r["pretraining"]["flops"] == 6 * n * 1e12
    assert r["full fine-tuning"]["flops"] == 6 * n * 1e8
    lora = lora_parameters(32, 4096, 8)
    assert r["LoRA"]["trainable"] == lora
    assert r["LoRA"]["total"] == pytest.approx(2 * (n + lora) + 14 * lora)
    assert r["LoRA"]["total"] < r["full fine-tuning"]["total"] / 7   # LoRA needs about 1/8 of the memory
    assert r["LoRA"]["flops"] == pytest.approx(4 * (n + lora) * 1e8)


def test_landmarks_carry_sources() -> None:
    """Every landmark has a source; estimated compute is exactly 6 N D, published compute is not re-derived."""
    assert len(LANDMARKS) >= 8
    for m in LANDMARKS:
        assert m.source and m.year > 2000 and m.params > 0
        if m.estimated:
            assert m.compute == training_flops(m.params, m.tokens)
    years = [m.year for m in LANDMARKS]
    assert years == sorted(years)


def test_human() -> None:
    assert human(1.5e9) == "1.5 G"
    assert human(7.2e6, "B") == "7.2 MB"
    assert human(3.14e23, "FLOPs") == "3.1e+23 FLOPs"
    assert human(12) == "12"


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="n_params must be positive"):
        training_flops(0, 10)
    with pytest.raises(TypeError, match="tokens must be a number"):
        training_flops(10, "many")
    with pytest.raises(ValueError, match="n_trainable must lie in"):
        training_memory(10, 11)
    with pytest.raises(ValueError, match="shape must be one of"):
        compare_methods("GPT-5")
    with pytest.raises(ValueError, match="rank must be a positive int"):
        lora_parameters(2, 4, 0)


@pytest.mark.slow
def test_costs_explorer_redraws() -> None:
    """The calculator: moving the rank in live mode redraws; static mode holds one frame per model × rank."""
    pytest.importorskip("ipywidgets")
    from dlbook.widgets.costs import RANKS, make_costs_explorer

    live = make_costs_explorer(mode="live")
    first = live.last_png
    live.controls["rank"].value = 64
    assert live.last_png != first
    live.controls["model"].value = "GPT-3 175B"
    assert live.last_png not in (first, None)
    static = make_costs_explorer(mode="static")
    assert len(static.frames) == len(SHAPES) * len(RANKS)
    assert static.select(model="GPT-2 XL", rank=1) == static.frames[("GPT-2 XL", 1)]
