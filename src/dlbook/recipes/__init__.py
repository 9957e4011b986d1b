"""Training recipes: how the book's models were trained, with their presets — apart from the architectures.

Each recipe builds a model from :mod:`dlbook.models`, trains it through the package's one loop
(:func:`dlbook.train.train_loop`, with :func:`dlbook.train.lr_schedule`), and is also a command,
``python -m dlbook.recipes.<name> --help``:

- ``pretrain``: the GPT of Part IV on People's Daily (presets tiny, small, base, base2, wide);
- ``char_lm``: the character LSTM of §3.4;
- ``translator``: the date translator of §3.5 (an encoder–decoder Transformer);
- ``digits``: the MLP of §3.1 and the CNN of §3.3 on the 8×8 digits;
- ``finetune_sweep``: the label-efficiency sweep of §5.3 (``sweep_results`` reads what it writes);
- ``isoflop``: the IsoFLOP study of §8 (compute-optimal model size; :mod:`dlbook.scaling` fits it);
- ``results_file``: the results file the long sweeps fill one finished run at a time.
"""
