"""Fine-tune and evaluate a human-vs-AI image detector: ``deepart-hf train`` as a script.

    python train.py                                   # the main job: synthetic set, small CNN, a few CPU minutes
    python train.py --dataset data/deepart --protocol deepart --model resnet50
    accelerate launch train.py --dataset data/deepart --model vit-base --bf16 true
    python train.py --eval_only --model_name_or_path outputs/run --dataset data/other

Every transformers TrainingArguments flag works (--output_dir, --num_train_epochs, --learning_rate,
--bf16, --resume_from_checkpoint, --push_to_hub, --hub_model_id, ...); `python train.py --help` lists all.
"""

import sys

from deepart_hf.console import setup_console
from deepart_hf.errors import DeepArtError
from deepart_hf.training.train_command import main_argv


def main(argv=None) -> int:
    setup_console()
    try:
        return main_argv(sys.argv[1:] if argv is None else argv, prog="train.py")
    except DeepArtError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
