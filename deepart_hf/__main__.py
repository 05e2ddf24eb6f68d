"""``python -m deepart_hf COMMAND ...`` is ``deepart-hf COMMAND ...``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
