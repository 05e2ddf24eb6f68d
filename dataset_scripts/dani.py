"""ANID / D-ANI (DNAI) raw layout -> Hub dataset: COCO photographs vs 9 generators, written shard by shard.

python dataset_scripts/dani.py --source DANI --out data/dani --resolutions 512 --max_per_generator 5000 --real_per_generated 1
python dataset_scripts/dani.py --help
"""

import sys

from deepart_hf.data.build_command import run_dataset_script

if __name__ == "__main__":
    sys.exit(run_dataset_script("dani", sys.argv[1:]))
