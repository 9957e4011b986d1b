"""dlbook: the numpy package behind *Large Models from Scratch* (从零开始大模型开发与微调).

Layers, bottom to top: ``autograd`` → ``functional`` → ``nn`` → ``optim`` →
``data`` → ``models`` → ``finetune``/``train`` → ``widgets``; ``gradcheck``
checks any of them numerically.
"""

from dlbook.autograd import Function, Tensor, is_grad_enabled, no_grad

__version__ = "0.1.0"
__all__ = ["Tensor", "Function", "no_grad", "is_grad_enabled", "__version__"]
