"""deepart-hf train: fine-tune and evaluate a human-vs-AI image detector (``python train.py`` is the same).

    deepart-hf train                                    # the main job: synthetic set, small CNN, a few CPU minutes
    deepart-hf train --dataset deepart --protocol deepart --model resnet50
    accelerate launch -m deepart_hf train --dataset deepart --model vit-base --bf16 true
    deepart-hf train --eval_only --model_name_or_path outputs/run --dataset other-dataset

Every transformers TrainingArguments flag works (--output_dir, --num_train_epochs, --learning_rate, --bf16,
--resume_from_checkpoint, --push_to_hub, --hub_model_id, ...); `deepart-hf train --help` lists all. The flags
become one ``TrainConfig``, run by ``deepart_hf.train``.
"""

from __future__ import annotations

from .arguments import parse_arguments


def main_argv(argv: list[str], prog: str = "deepart-hf train") -> int:
    config = parse_arguments(argv, prog)
    if config.run.list_models:
        from ..models import MODELS

        for name, spec in MODELS.items():
            print(f"{name:<16} {spec.description}")
        return 0
    from .run import train

    train(config)
    return 0
