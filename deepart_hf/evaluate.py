"""``python -m deepart_hf.evaluate ...`` is ``deepart-hf evaluate ...``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
