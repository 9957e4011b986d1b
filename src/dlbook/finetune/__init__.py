"""Fine-tuning a pretrained model: freezing, LoRA adapters, a classification head (domain-adaptive pretraining
is a pretraining preset: ``dlbook.recipes.pretrain``, preset ``reviews``)."""

from dlbook.finetune.classifier import (
    METHODS,
    FinetuneResult,
    GPTClassifier,
    accuracy_of,
    build_classifier,
    encode_texts,
    finetune_classifier,
    predict,
)
from dlbook.finetune.freeze import freeze, freeze_except, set_trainable, trainable_parameters, unfreeze
from dlbook.finetune.lora import (
    DEFAULT_TARGETS,
    LoRALinear,
    apply_lora,
    count_parameters,
    lora_parameter_count,
    merge_lora,
)

__all__ = [
    "METHODS", "FinetuneResult", "GPTClassifier", "accuracy_of", "build_classifier",
    "encode_texts", "finetune_classifier", "predict",
    "freeze", "freeze_except", "set_trainable", "trainable_parameters", "unfreeze",
    "DEFAULT_TARGETS", "LoRALinear", "apply_lora", "count_parameters", "lora_parameter_count", "merge_lora",
]
