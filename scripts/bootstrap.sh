#!/usr/bin/env bash
# Create .venv with Python 3.11 and install the pinned dependencies (only when the lock changed).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$candidate; break
    fi
  done
fi
if [ -z "$PY" ]; then
  echo "Four Gates needs Python 3.11 with venv. Install it with: sudo apt-get install -y python3.11 python3.11-venv" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $PY..."
  "$PY" -m venv .venv || { echo "Install venv support: sudo apt-get install -y python3.11-venv" >&2; exit 1; }
fi
stamp=.venv/.lock-installed
if [ ! -f "$stamp" ] || ! cmp -s requirements.lock "$stamp"; then
  echo "Installing pinned dependencies..."
  .venv/bin/python -m pip install -q --upgrade pip 'setuptools<81'
  .venv/bin/python -m pip install -q -r requirements.lock
  .venv/bin/python -m pip install -q --no-deps -e .
  cp requirements.lock "$stamp"
fi
