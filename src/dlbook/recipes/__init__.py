"""Training recipes: how the book's models were trained, with their presets — apart from the architectures.

Each recipe builds a model from :mod:`dlbook.models`, trains it through the package's one loop
(:func:`dlbook.train.train_loop`, with :func:`dlbook.train.lr_schedule`), and is also a command:

==============================  =====================================================================
``dlbook.recipes.pretrain``     the GPT of Part IV on People's Daily (presets tiny … base2)
``dlbook.recipes.char_lm``      the character LSTM of §3.4
``dlbook.recipes.translator``   the date translator of §3.5 (encoder–decoder Transformer)
``dlbook.recipes.digits``       the MLP of §3.1 and the CNN of §3.3 on the 8×8 digits
``dlbook.recipes.finetune_sweep``  the label-efficiency sweep of §5.3 (``sweep_results`` reads its file)
``dlbook.recipes.scaling``      the miniature scaling study of §8
==============================  =====================================================================

Run one with ``python -m dlbook.recipes.<name> --help``.
"""
