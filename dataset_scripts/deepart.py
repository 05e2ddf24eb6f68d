"""DeepArt (Human/ and Aigc/ folders of https://github.com/rickwang28574/DeepArt) as a Hub dataset: configs default and pairs.

python dataset_scripts/deepart.py --help
"""

import sys

from deepart_hf.data.build_command import run_dataset_script

if __name__ == "__main__":
    sys.exit(run_dataset_script("deepart", sys.argv[1:]))
