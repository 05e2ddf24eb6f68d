"""Dall.E vs Paintings ({train,val,test}/{artificial,human}/) as a Hub dataset, keeping its splits.

python dataset_scripts/dalle_paintings.py --help
"""

import sys

from deepart_hf.data.build_command import run_dataset_script

if __name__ == "__main__":
    sys.exit(run_dataset_script("dalle_paintings", sys.argv[1:]))
