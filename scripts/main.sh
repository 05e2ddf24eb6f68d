#!/usr/bin/env bash
# The README's main command: install (once), then train on the embedded synthetic default.
# Extra arguments go to train.py, e.g. scripts/main.sh --num_train_epochs 1
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
exec "$VENV/bin/python" train.py "$@"
