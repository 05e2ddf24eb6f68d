#!/usr/bin/env bash
# The README's test command: install (once) and run the test suite offline.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TQDM_DISABLE=1
exec "$VENV/bin/python" -m pytest "$@"
