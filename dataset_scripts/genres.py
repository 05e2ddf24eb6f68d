"""Genre subsets (<genre>/{ai,human}/) as a Hub dataset: config mixed plus one per genre.

    python dataset_scripts/genres.py --help
"""

import sys

from deepart_hf.data.cli import SourceArguments, run_dataset_script

if __name__ == "__main__":
    sys.exit(run_dataset_script("genres", SourceArguments))
