"""What a finished pretraining run ships: its weights, or only its settings and loss curves.

A run file (:mod:`dlbook.recipes.pretrain`) holds the optimiser's moments and the sampler's state, three times
the size of the weights; the book ships the weights of the run it uses and the loss curves of the runs it only
compares against.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dlbook._io import atomic_write
from dlbook.models.gpt import load_gpt, save_gpt


def export_weights(run: str | Path, out: str | Path, dtype: Any = np.float16) -> None:
    """Write the weights of the run saved at ``run`` to ``out`` as ``dtype``, without the optimiser state.

    What a run ships: the parameters (float16 halves the file; the model computes in float32 after
    loading, and every loss the book reports is measured on the exported file), the config, the
    tokenizer, the settings and the loss history.  The same run always exports the same bytes.
    """
    model, tokenizer, ck, extra = load_gpt(run)
    history = {k: v for k, v in extra.items() if k.startswith("hist_")}
    info = {k: ck[k] for k in ("settings", "seed", "step", "unigram_val_loss") if k in ck}
    info["weights_dtype"] = np.dtype(dtype).name
    model.to_dtype(dtype)
    save_gpt(Path(out), model, tokenizer, history, info)


def export_history(run: str | Path, out: str | Path) -> dict[str, Any]:
    """Write the settings, seed, step and loss history of the run at ``run`` to ``out`` as JSON; return them.

    Keys: ``settings``, ``seed``, ``step``, ``seconds`` (wall time of the run) and the lists ``step_loss`` /
    ``loss`` (every training step) and ``val_step`` / ``val_loss`` (every evaluation), in nats per character.
    """
    _, _, ck, extra = load_gpt(run)
    record = dict(settings=ck["settings"], seed=ck["seed"], step=ck["step"], seconds=float(extra["hist_seconds"]),
                  step_loss=extra["hist_step"].tolist(), loss=np.round(extra["hist_loss"], 5).tolist(),
                  val_step=extra["hist_val_step"].tolist(), val_loss=extra["hist_val_loss"].tolist())
    text = (json.dumps(record, indent=1) + "\n").encode("utf-8")
    atomic_write(Path(out), lambda f: f.write(text))
    return record
