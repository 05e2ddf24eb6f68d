"""Fine-tune and evaluate a human-vs-AI image detector.

    python train.py                                   # the main job: synthetic set, small CNN, a few CPU minutes
    python train.py --dataset deepart --protocol deepart --model resnet50
    accelerate launch train.py --dataset deepart --model vit-base --bf16 true
    python train.py --eval_only --model_name_or_path outputs/run --dataset other-dataset

Every transformers TrainingArguments flag works (--output_dir, --num_train_epochs, --learning_rate,
--bf16, --resume_from_checkpoint, --push_to_hub, --hub_model_id, ...); `python train.py --help` lists all.
"""

import sys

from deepart_hf.console import setup_console
from deepart_hf.errors import DeepArtError
from deepart_hf.training.arguments import parse_arguments


def main(argv=None) -> int:
    setup_console()
    try:
        args = parse_arguments(argv)
        if args.run.list_models:
            from deepart_hf.models import MODELS

            for name, spec in MODELS.items():
                print(f"{name:<16} {spec.description}")
            return 0
        from deepart_hf.training.run import run

        run(args)
    except DeepArtError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
