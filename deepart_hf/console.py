"""What the command-line tools print: one progress bar per stage, warnings, one-line errors, and nothing else.

transformers opens a progress bar for every model it saves ("Writing model shards") or loads ("Loading
weights"): a run saves a checkpoint every epoch, so these bars would outnumber everything else. Libraries that
deepart-hf does not run from the command line keep their defaults.
"""

from __future__ import annotations

import logging


def setup_console() -> None:
    import transformers  # here, so that a command's --help does not wait for it

    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.WARNING)
    transformers.utils.logging.disable_progress_bar()
