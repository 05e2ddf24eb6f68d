# Sourced by the README's commands: a virtual environment with deepart-hf installed, made once.
# Needs only Python 3.10+; torch and torchvision are pinned together (timm needs torchvision).
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
if [ ! -f "$VENV/.deepart-hf-installed" ] || [ pyproject.toml -nt "$VENV/.deepart-hf-installed" ]; then
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
    "$VENV/bin/python" -m pip install -q -e ".[test,demo]"
    touch "$VENV/.deepart-hf-installed"
fi
export MPLBACKEND=Agg
