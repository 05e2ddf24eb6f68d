"""Your own <label>/ folders (human/ai, or mapped with --label_map) as a Hub dataset.

python dataset_scripts/folder.py --help
"""

import sys

from deepart_hf.data.build_command import run_dataset_script

if __name__ == "__main__":
    sys.exit(run_dataset_script("folder", sys.argv[1:]))
