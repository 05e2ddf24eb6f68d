"""Training recipes of the papers and studies the project reproduces (DeepArt, Dall·E vs paintings, the genre
study, SAFE), as typed presets: values for fields of each argument group
(``ModelArguments``, ``DataArguments``, ``RunArguments``, transformers' ``TrainingArguments``).

A preset's values are the defaults a command line is parsed with, so any explicit flag overrides them
(``training/arguments.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DeepArtError


@dataclass(frozen=True)
class Protocol:
    name: str
    reference: str
    # field -> value, per argument group
    model: dict[str, object] = field(default_factory=dict)
    data: dict[str, object] = field(default_factory=dict)
    run: dict[str, object] = field(default_factory=dict)
    training: dict[str, object] = field(default_factory=dict)
    # Values the reference does not state and we had to choose; they go into the model card.
    choices: dict[str, str] = field(default_factory=dict)

    def overrides(self) -> dict[str, object]:
        """Every group's values, by field name (the names are unique across the groups)."""
        return {**self.model, **self.data, **self.run, **self.training}


PROTOCOLS: dict[str, Protocol] = {}


def register_protocol(protocol: Protocol) -> Protocol:
    PROTOCOLS[protocol.name] = protocol
    return protocol


QUICK = register_protocol(
    Protocol(
        name="quick",
        reference="deepart-hf's smoke run: a small CNN from scratch on the synthetic set, a few minutes on a laptop CPU",
        model={
            "model": "resnet10t",
            "from_scratch": True,
        },
        data={
            "preprocess": "crop",
            "image_size": 96,
        },
        training={
            "num_train_epochs": 16,
            "per_device_train_batch_size": 32,
            "per_device_eval_batch_size": 64,
            "learning_rate": 2e-3,
            "weight_decay": 0.05,
            "optim": "adamw_torch",
            "lr_scheduler_type": "cosine",
            "warmup_steps": 0.05,
        },
    )
)

DEEPART = register_protocol(
    Protocol(
        name="deepart",
        reference="DeepArt paper, section 4.2: split 1:1:8, 20 epochs, batch 8, 224x224, SGD momentum 0.9, "
        "weight decay 5e-4, cosine decay, cross-entropy",
        data={
            "preprocess": "resize",
            "image_size": 224,
        },
        training={
            "num_train_epochs": 20,
            "per_device_train_batch_size": 8,
            "per_device_eval_batch_size": 8,
            "optim": "sgd",
            "optim_args": "momentum=0.9",
            "weight_decay": 5e-4,
            "lr_scheduler_type": "cosine",
            "learning_rate": 1e-3,
        },
        choices={"learning_rate": "1e-3: the paper does not state its learning rate"},
    )
)

DALLE = register_protocol(
    Protocol(
        name="dalle",
        reference="Dall.E vs Paintings project, its model 1: pre-trained ResNet-18 as a frozen feature extractor, "
        "10 epochs, lr 1e-3, StepLR step 7 gamma 0.1, batch 10 (models 3/4: add --unfreeze_epochs 12 or 5)",
        model={
            "model": "resnet18",
            "freeze_backbone": True,
        },
        data={
            "preprocess": "resize",
            "image_size": 224,
        },
        run={
            "step_lr_epochs": 7,
            "step_lr_gamma": 0.1,
        },
        training={
            "num_train_epochs": 10,
            "per_device_train_batch_size": 10,
            "per_device_eval_batch_size": 10,
            "learning_rate": 1e-3,
            "optim": "sgd",
            "optim_args": "momentum=0.9",
            "weight_decay": 0.0,
        },
        choices={
            "optim": "SGD with momentum 0.9: the project does not name its optimizer (PyTorch's transfer-learning tutorial, which its setup follows, uses this)"
        },
    )
)

GENRE = register_protocol(
    Protocol(
        name="genre",
        reference="Yin (Rice), genre subsets: ResNet50 / GoogLeNet / ViT, SGD lr 1e-3, batch 100, cross-entropy, "
        "per-genre and mixed runs (the paper trains 300 epochs)",
        model={
            "model": "resnet50",
        },
        data={
            "preprocess": "resize",
            "image_size": 224,
        },
        training={
            "num_train_epochs": 300,
            "per_device_train_batch_size": 100,
            "per_device_eval_batch_size": 100,
            "learning_rate": 1e-3,
            "optim": "sgd",
            "weight_decay": 0.0,
            "lr_scheduler_type": "constant",
        },
        choices={"lr_scheduler_type": "constant: the paper names no schedule"},
    )
)


SAFE = register_protocol(
    Protocol(
        name="safe",
        reference="SAFE (Li et al., KDD 2025), official code (Ouxiang-Li/SAFE scripts/train.sh, main_finetune.py, "
        "data/datasets.py): 256-px random crops (centre crop at test), flip, RandomRotation(180), ColorJitter(0.5), "
        "patch masks; AdamW, base lr 1e-2 x batch / 256, weight decay 0.01, 1 warm-up epoch of 20, label smoothing 0.1",
        model={
            "model": "safe",
            "from_scratch": True,
        },
        data={
            "preprocess": "crop",
            "image_size": 256,
            "augment": "safe",
        },
        training={
            "num_train_epochs": 20,
            "per_device_train_batch_size": 32,
            "per_device_eval_batch_size": 32,
            "optim": "adamw_torch",
            "learning_rate": 1.25e-3,
            "weight_decay": 0.01,
            "lr_scheduler_type": "cosine",
            "warmup_steps": 0.05,
            "label_smoothing_factor": 0.1,
        },
        choices={
            "learning_rate": "1.25e-3: SAFE's rule (base lr 1e-2 x total batch / 256) at one device's batch of 32; "
            "SAFE trained on 4 GPUs (batch 128, lr 5e-3)",
            "lr_scheduler_type": "cosine after warm-up: assumed from the MAE-style arguments of SAFE's script (warmup_epochs, min_lr); "
            "the paper names no schedule",
        },
    )
)


def get_protocol(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise DeepArtError(f"unknown protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]
