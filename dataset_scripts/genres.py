"""The genre study's images as a Hub dataset: config mixed plus one per genre.

Reads the study's repository as published (<genre>/{training_set,testing_set}/{AI_generated,hand_drawing}/,
its train/test split kept) or the simple <genre>/{ai,human}/ (split by ratio).

    python dataset_scripts/genres.py --source COMP576-project/dataset --out genres [--validation_share 0.1]
"""

import sys

from deepart_hf.data.build_command import run_dataset_script

if __name__ == "__main__":
    sys.exit(run_dataset_script("genres", sys.argv[1:]))
