"""The embedded default: a small synthetic human-vs-AI set generated in seconds, no download needed.

python dataset_scripts/synthetic.py --out synthetic [--n_per_class 200] [--seed 42]
python dataset_scripts/synthetic.py --out synthetic-gen3 --generators 3   # real + 3 generators, for attribution
"""

import sys

from deepart_hf.data.build_command import run_dataset_script

if __name__ == "__main__":
    sys.exit(run_dataset_script("synthetic", sys.argv[1:]))
